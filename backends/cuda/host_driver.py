"""The host side of a CUDA artifact: LLVM IR for the host triple that loads the CUDA
driver at run time and launches the kernels. No link-time CUDA: the object's undefined
symbols are dlopen/dlsym/dlerror/dlclose and snprintf (libc).

The object defines, for entry symbol ENTRY (the CPU backend's calling convention, so the
generated C++ class and the Python loader work unchanged):

    int32_t ENTRY(void* const* args, void* const* results, void* temps,
                  const AotcRunOptions* options);
        Host buffers in and out. `temps` (the artifact's temp arena, zeroed before the
        first call) holds at `session_offset` the driver state of one instance (the
        backend's scratch bytes; the rest is unused on the host). The first call
        dlopens libcuda.so.1, looks the driver API up, retains
        device 0's primary context, loads the embedded PTX, uploads the constants into
        the module's constants global (once: constants.py), and allocates one
        device arena for args, results and temporaries. Each call copies the args in,
        launches the kernels in order on the default stream, copies the results out and
        synchronizes. Returns 0, or AOTC_ERROR_UNAVAILABLE with the reason (the driver's
        own error string where it gives one) in ENTRY_error(session).
    int32_t ENTRY_init(void* temps);
        Only the first-call setup (0 when the driver and a GPU are ready).
    int32_t ENTRY_device(void* const* args, void* const* results, void* temps,
                         void* stream);
        The same on device pointers (CUdeviceptr values stored in the arrays), enqueued
        on `stream` (a CUstream; NULL: the default stream); returns once enqueued.
    const char* ENTRY_error(const void* temps);   the last error ("" if none)
    void ENTRY_release(void* temps);              frees the device arena, unloads the module
"""

from __future__ import annotations

import llvmlite.ir as ir

from aotc.backends.cpu.object_data import MIN_BYTES, ObjectData
from aotc.backends.cpu.llvm_types import I8, I32, I64, PTR, int_const

from .constants import SYMBOL as CONSTANTS
from .launch_plan import BufferRef, Launch, emit_plan, launches

#: Driver API entry points, as dlsym names (the _v2 ABI where the header maps to one).
DRIVER_API = ("cuInit", "cuDeviceGet", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent",
              "cuModuleLoadData", "cuModuleGetFunction", "cuMemAlloc_v2", "cuMemFree_v2",
              "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuLaunchKernel",
              "cuStreamSynchronize", "cuGetErrorString", "cuModuleUnload",
              "cuDevicePrimaryCtxRelease_v2", "cuModuleGetGlobal_v2", "cuMemcpyHtoD_v2")
ERROR_BYTES = 512
#: Device buffers are placed at multiples of this in the arena.
DEVICE_ALIGNMENT = 256
STATUS_UNAVAILABLE = 4


class SessionLayout:
    """Byte offsets of the driver state inside the session block."""

    def __init__(self, kernel_count: int, buffer_count: int, max_params: int):
        slot = iter(range(0, 10**9, 8))
        self.initialized, self.library, self.context, self.module = (next(slot) for _ in range(4))
        self.device, self.arena, self.constants = next(slot), next(slot), next(slot)
        self.read_back = next(slot)  # a predicate or selector read from the device
        self.api = {name: next(slot) for name in DRIVER_API}
        self.functions = [next(slot) for _ in range(kernel_count)]
        self.pointers = [next(slot) for _ in range(buffer_count)]  # device buffer addresses
        self.params = [next(slot) for _ in range(buffer_count)]  # &pointers[i], for launches
        # The buffers of a kernel of a called computation, and pointers to them.
        self.call_pointers = [next(slot) for _ in range(max_params)]
        self.call_params = [next(slot) for _ in range(max_params)]
        self.error = next(slot)
        self.size = self.error + ERROR_BYTES


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class HostDriver:
    """Emits the host functions of one CUDA artifact into `module`."""

    def __init__(self, module: ir.Module, entry: str, ptx: str, constants: bytes, plan: list,
                 outside: ObjectData | None,
                 arg_sizes: list[int], result_sizes: list[int], temp_bytes: int,
                 session_offset: int):
        self.module, self.entry, self.plan = module, entry, plan
        self.outside = outside  # where big data goes around LLVM (ELF objects)
        self.session_offset = session_offset
        self.arg_sizes, self.result_sizes = arg_sizes, result_sizes
        every = launches(plan)
        kernels = sorted({launch.kernel for launch in every})
        self.kernel_slot = {name: k for k, name in enumerate(kernels)}
        self.buffers = len(arg_sizes) + len(result_sizes) + 1
        max_params = max([len(s.params) for s in every if s.params is not None], default=0)
        self.layout = SessionLayout(len(kernels), self.buffers, max_params)
        offsets, position = [], 0
        for size in [*arg_sizes, *result_sizes, temp_bytes]:
            offsets.append(position)
            position += _round_up(max(size, 1), DEVICE_ALIGNMENT)
        self.device_offsets, self.arena_bytes = offsets, position
        self._strings: dict[str, ir.GlobalVariable] = {}
        self.ptx = self._string(ptx, "ptx")
        self.constant_data = constants
        self.constants = self._bytes(constants, "constants") if constants else None
        self._kernel_names = {name: self._string(name, "kernel.name") for name in kernels}
        self._declare_libc()

    # -- helpers ---------------------------------------------------------------------------

    def _string(self, text: str, label: str = "str") -> ir.GlobalVariable:
        if text in self._strings:
            return self._strings[text]
        data = bytearray(text.encode() + b"\0")
        ty = ir.ArrayType(I8, len(data))
        var = ir.GlobalVariable(self.module, ty, self.module.get_unique_name(label))
        var.initializer = ir.Constant(ty, data)
        var.global_constant, var.linkage, var.unnamed_addr = True, "private", True
        self._strings[text] = var
        return var

    def _bytes(self, data: bytes, label: str) -> ir.GlobalVariable:
        """Read-only data; big blobs bypass LLVM's IR text where the object format allows,
        as the CPU backend's constants do (backends/cpu/object_data/)."""
        ty = ir.ArrayType(I8, len(data))
        if self.outside is not None and len(data) >= MIN_BYTES:
            var = ir.GlobalVariable(self.module, ty, self.outside.add(memoryview(data)))
            var.storage_class = "hidden"  # defined in this object: PC-relative, no GOT
        else:
            var = ir.GlobalVariable(self.module, ty, self.module.get_unique_name(label))
            var.initializer = ir.Constant(ty, bytearray(data))
            var.linkage, var.unnamed_addr = "private", True
        var.global_constant = True
        var.align = 64
        return var

    def _declare_libc(self) -> None:
        def declare(name, ret, args, var_arg=False):
            return ir.Function(self.module, ir.FunctionType(ret, args, var_arg=var_arg), name=name)

        self.dlopen = declare("dlopen", PTR, [PTR, I32])
        self.dlsym = declare("dlsym", PTR, [PTR, PTR])
        self.dlerror = declare("dlerror", PTR, [])
        self.dlclose = declare("dlclose", I32, [PTR])
        self.snprintf = declare("snprintf", I32, [PTR, I64, PTR], var_arg=True)

    def _function(self, name: str, ret, args) -> tuple[ir.Function, ir.IRBuilder]:
        fn = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
        fn.attributes.add("nounwind")
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def _session(self, b, temps):
        """The driver state inside the temp arena."""
        return self._slot(b, temps, self.session_offset)

    @staticmethod
    def _slot(b: ir.IRBuilder, session, offset: int):
        return b.gep(session, [int_const(offset)], inbounds=True, source_etype=I8)

    def _load(self, b, session, offset: int, ty=PTR):
        return b.load(self._slot(b, session, offset), typ=ty)

    def _store(self, b, session, offset: int, value) -> None:
        b.store(value, self._slot(b, session, offset))

    def _fail(self, b, session, fmt: str, *values) -> None:
        """Write the message into the session and return STATUS_UNAVAILABLE."""
        b.call(self.snprintf, [self._slot(b, session, self.layout.error), int_const(ERROR_BYTES),
                               self._string(fmt), *values])
        b.ret(ir.Constant(I32, STATUS_UNAVAILABLE))

    def _api(self, b, session, name: str, ret, args, values):
        """Call the driver function `name` through the session's looked-up pointer."""
        typed = ir.PointerType(ir.FunctionType(ret, args))  # a typed pointer: callable
        return b.call(self._load(b, session, self.layout.api[name], typed), values)

    def _check(self, fn, b, session, status, what: str):
        """if (status != CUDA_SUCCESS) fail with "<what>: <driver's error string>"."""
        failed = fn.append_basic_block(f"{what}.failed")
        ok = fn.append_basic_block(f"{what}.ok")
        b.cbranch(b.icmp_signed("!=", status, ir.Constant(I32, 0)), failed, ok)
        b.position_at_end(failed)
        text = b.alloca(PTR)
        b.store(self._string("unknown error"), text)
        self._api(b, session, "cuGetErrorString", I32, [I32, PTR], [status, text])
        self._fail(b, session, "CUDA driver: %s failed: %s (error %d)", self._string(what),
                   b.load(text, typ=PTR), status)
        b.position_at_end(ok)

    # -- functions -------------------------------------------------------------------------

    def emit(self) -> None:
        init = self._emit_init()
        launch = self._emit_launches()
        self._emit_host_entry(init, launch)
        self._emit_device_entry(init, launch)
        self._emit_init_entry(init)
        self._emit_error()
        self._emit_release()

    def _emit_init(self) -> ir.Function:
        """int32_t init(session): the first-call setup, then (every call) the instance's
        context made current on the calling thread; 0 when ready."""
        lay = self.layout
        fn, b = self._function(f"{self.entry}.init", I32, [PTR])
        fn.linkage = "internal"
        (session,) = fn.args
        done = fn.append_basic_block("ready")
        start = fn.append_basic_block("start")
        flag = self._load(b, session, lay.initialized, I64)
        b.cbranch(b.icmp_unsigned("!=", flag, int_const(0)), done, start)
        b.position_at_end(done)
        # Run() may come from another thread than the first call: bind the context here.
        status = self._api(b, session, "cuCtxSetCurrent", I32, [PTR], [self._load(b, session, lay.context)])
        self._check(fn, b, session, status, "cuCtxSetCurrent")
        b.ret(ir.Constant(I32, 0))

        b.position_at_end(start)
        library = b.call(self.dlopen, [self._string("libcuda.so.1"), ir.Constant(I32, 2)])  # RTLD_NOW
        no_library = fn.append_basic_block("no_driver")
        loaded = fn.append_basic_block("loaded")
        b.cbranch(b.icmp_unsigned("==", library, ir.Constant(PTR, None)), no_library, loaded)
        b.position_at_end(no_library)
        self._fail(b, session, "no CUDA driver: cannot load libcuda.so.1 (%s)", b.call(self.dlerror, []))
        b.position_at_end(loaded)
        self._store(b, session, lay.library, library)
        for name, offset in lay.api.items():
            pointer = b.call(self.dlsym, [library, self._string(name)])
            missing = fn.append_basic_block(f"{name}.missing")
            found = fn.append_basic_block(f"{name}.found")
            b.cbranch(b.icmp_unsigned("==", pointer, ir.Constant(PTR, None)), missing, found)
            b.position_at_end(missing)
            self._fail(b, session, "CUDA driver: libcuda.so.1 has no %s", self._string(name))
            b.position_at_end(found)
            self._store(b, session, offset, pointer)

        status = self._api(b, session, "cuInit", I32, [I32], [ir.Constant(I32, 0)])
        self._check(fn, b, session, status, "cuInit")
        device = self._slot(b, session, lay.device)
        status = self._api(b, session, "cuDeviceGet", I32, [PTR, I32], [device, ir.Constant(I32, 0)])
        self._check(fn, b, session, status, "cuDeviceGet")
        context = self._slot(b, session, lay.context)
        status = self._api(b, session, "cuDevicePrimaryCtxRetain", I32, [PTR, I32],
                           [context, b.load(device, typ=I32)])
        self._check(fn, b, session, status, "cuDevicePrimaryCtxRetain")
        status = self._api(b, session, "cuCtxSetCurrent", I32, [PTR], [b.load(context, typ=PTR)])
        self._check(fn, b, session, status, "cuCtxSetCurrent")
        module = self._slot(b, session, lay.module)
        status = self._api(b, session, "cuModuleLoadData", I32, [PTR, PTR], [module, self.ptx])
        self._check(fn, b, session, status, "cuModuleLoadData")
        for name, k in self.kernel_slot.items():
            status = self._api(b, session, "cuModuleGetFunction", I32, [PTR, PTR, PTR],
                               [self._slot(b, session, lay.functions[k]), b.load(module, typ=PTR),
                                self._kernel_names[name]])
            self._check(fn, b, session, status, "cuModuleGetFunction")
        if self.constants is not None:  # the module's constants global, filled once
            constants = self.constant_data
            address, size = b.alloca(I64), b.alloca(I64)
            status = self._api(b, session, "cuModuleGetGlobal_v2", I32, [PTR, PTR, PTR, PTR],
                               [address, size, b.load(module, typ=PTR), self._string(CONSTANTS)])
            self._check(fn, b, session, status, "cuModuleGetGlobal")
            self._store(b, session, lay.constants, b.load(address, typ=I64))
            status = self._api(b, session, "cuMemcpyHtoD_v2", I32, [I64, PTR, I64],
                               [b.load(address, typ=I64), self.constants,
                                int_const(len(constants))])
            self._check(fn, b, session, status, "cuMemcpyHtoD")
        arena = self._slot(b, session, lay.arena)
        status = self._api(b, session, "cuMemAlloc_v2", I32, [PTR, I64], [arena, int_const(self.arena_bytes)])
        self._check(fn, b, session, status, "cuMemAlloc")
        self._store(b, session, lay.initialized, int_const(1))
        b.ret(ir.Constant(I32, 0))
        return fn

    def _emit_launches(self) -> ir.Function:
        """int32_t launch(session, stream): the launch plan on the session's buffer
        pointers (already stored in the session)."""
        lay = self.layout
        fn, b = self._function(f"{self.entry}.launch", I32, [PTR, PTR])
        fn.linkage = "internal"
        session, stream = fn.args
        for k in range(self.buffers):  # params[k] = &pointers[k]
            self._store(b, session, lay.params[k], self._slot(b, session, lay.pointers[k]))
        emit_plan(fn, b, self.plan, _DriverPlan(self, fn, session, stream))
        b.ret(ir.Constant(I32, 0))
        return fn

    def _emit_host_entry(self, init, launch) -> None:
        lay = self.layout
        fn, b = self._function(self.entry, I32, [PTR, PTR, PTR, PTR])
        args, results, temps, _options = fn.args
        session = self._session(b, temps)
        self._return_on_error(fn, b, b.call(init, [session]))
        arena = self._load(b, session, lay.arena, I64)
        for k, offset in enumerate(self.device_offsets):
            self._store(b, session, lay.pointers[k], b.add(arena, int_const(offset)))
        null = ir.Constant(PTR, None)
        for i, size in enumerate(self.arg_sizes):
            if size:
                host = b.load(b.gep(args, [int_const(i)], source_etype=PTR), typ=PTR)
                status = self._api(b, session, "cuMemcpyHtoDAsync_v2", I32, [I64, PTR, I64, PTR],
                                   [self._load(b, session, lay.pointers[i], I64), host,
                                    int_const(size), null])
                self._check(fn, b, session, status, "cuMemcpyHtoDAsync")
        self._return_on_error(fn, b, b.call(launch, [session, null]))
        for i, size in enumerate(self.result_sizes):
            if size:
                host = b.load(b.gep(results, [int_const(i)], source_etype=PTR), typ=PTR)
                device = self._load(b, session, lay.pointers[len(self.arg_sizes) + i], I64)
                status = self._api(b, session, "cuMemcpyDtoHAsync_v2", I32, [PTR, I64, I64, PTR],
                                   [host, device, int_const(size), null])
                self._check(fn, b, session, status, "cuMemcpyDtoHAsync")
        status = self._api(b, session, "cuStreamSynchronize", I32, [PTR], [null])
        self._check(fn, b, session, status, "cuStreamSynchronize")
        b.ret(ir.Constant(I32, 0))

    def _emit_device_entry(self, init, launch) -> None:
        lay = self.layout
        fn, b = self._function(f"{self.entry}_device", I32, [PTR, PTR, PTR, PTR])
        args, results, temps, stream = fn.args
        session = self._session(b, temps)
        self._return_on_error(fn, b, b.call(init, [session]))
        count = len(self.arg_sizes)
        for k in range(self.buffers - 1):
            table, i = (args, k) if k < count else (results, k - count)
            pointer = b.load(b.gep(table, [int_const(i)], source_etype=PTR), typ=I64)
            self._store(b, session, lay.pointers[k], pointer)
        arena = self._load(b, session, lay.arena, I64)
        self._store(b, session, lay.pointers[-1], b.add(arena, int_const(self.device_offsets[-1])))
        b.ret(b.call(launch, [session, stream]))

    def _return_on_error(self, fn, b, status) -> None:
        failed = fn.append_basic_block("failed")
        ok = fn.append_basic_block("ok")
        b.cbranch(b.icmp_signed("!=", status, ir.Constant(I32, 0)), failed, ok)
        b.position_at_end(failed)
        b.ret(status)
        b.position_at_end(ok)

    def _emit_error(self) -> None:
        fn, b = self._function(f"{self.entry}_error", PTR, [PTR])
        b.ret(self._slot(b, self._session(b, fn.args[0]), self.layout.error))

    def _emit_init_entry(self, init) -> None:
        fn, b = self._function(f"{self.entry}_init", I32, [PTR])
        b.ret(b.call(init, [self._session(b, fn.args[0])]))

    def _emit_release(self) -> None:
        """Free the arena, unload the module, release the context, close the library."""
        lay = self.layout
        fn, b = self._function(f"{self.entry}_release", ir.VoidType(), [PTR])
        session = self._session(b, fn.args[0])
        ready = fn.append_basic_block("ready")
        done = fn.append_basic_block("done")
        flag = self._load(b, session, lay.initialized, I64)
        b.cbranch(b.icmp_unsigned("!=", flag, int_const(0)), ready, done)
        b.position_at_end(ready)
        self._api(b, session, "cuMemFree_v2", I32, [I64], [self._load(b, session, lay.arena, I64)])
        self._api(b, session, "cuModuleUnload", I32, [PTR], [self._load(b, session, lay.module)])
        self._api(b, session, "cuDevicePrimaryCtxRelease_v2", I32, [I32],
                  [self._load(b, session, lay.device, I32)])
        b.call(self.dlclose, [self._load(b, session, lay.library)])
        self._store(b, session, lay.initialized, int_const(0))
        b.branch(done)
        b.position_at_end(done)
        b.ret_void()


class _DriverPlan:
    """The launch plan through the driver API: cuLaunchKernel, and a read-back
    (cuMemcpyDtoHAsync + cuStreamSynchronize) for control flow."""

    def __init__(self, driver: HostDriver, fn: ir.Function, session, stream):
        self.driver, self.fn, self.session, self.stream = driver, fn, session, stream

    def address(self, b: ir.IRBuilder, ref: BufferRef) -> ir.Value:
        d, lay = self.driver, self.driver.layout
        count = len(d.arg_sizes)
        slot = {"arg": lambda: lay.pointers[ref.index],
                "result": lambda: lay.pointers[count + ref.index],
                "temp": lambda: lay.pointers[-1],
                "constant": lambda: lay.constants}[ref.kind]()
        return b.add(d._load(b, self.session, slot, I64), int_const(ref.offset))

    def launch(self, b: ir.IRBuilder, step: Launch) -> None:
        d, lay, session = self.driver, self.driver.layout, self.session
        if step.params is None:
            params = d._slot(b, session, lay.params[0])
        else:
            for k, ref in enumerate(step.params):
                d._store(b, session, lay.call_pointers[k], self.address(b, ref))
                d._store(b, session, lay.call_params[k], d._slot(b, session, lay.call_pointers[k]))
            params = d._slot(b, session, lay.call_params[0])
        function = d._load(b, session, lay.functions[d.kernel_slot[step.kernel]])
        u32 = lambda v: ir.Constant(I32, v)  # noqa: E731
        status = d._api(b, session, "cuLaunchKernel", I32,
                        [PTR, I32, I32, I32, I32, I32, I32, I32, PTR, PTR, PTR],
                        [function, u32(step.grid), u32(1), u32(1), u32(step.block), u32(1),
                         u32(1), u32(0), self.stream, params, ir.Constant(PTR, None)])
        d._check(self.fn, b, session, status, f"cuLaunchKernel({step.kernel})")

    def read(self, b: ir.IRBuilder, ref: BufferRef, ty: ir.Type) -> ir.Value:
        d, session = self.driver, self.session
        target = d._slot(b, session, d.layout.read_back)
        size = ty.width // 8
        status = d._api(b, session, "cuMemcpyDtoHAsync_v2", I32, [PTR, I64, I64, PTR],
                        [target, self.address(b, ref), int_const(size), self.stream])
        d._check(self.fn, b, session, status, "cuMemcpyDtoHAsync")
        status = d._api(b, session, "cuStreamSynchronize", I32, [PTR], [self.stream])
        d._check(self.fn, b, session, status, "cuStreamSynchronize")
        return b.load(target, typ=ty)
