// neural-talking-heads MPI addon: the few collectives data-parallel meta-learning needs (issue 14),
// over the system's MPI (Debian: libopenmpi-dev). Optional, like the oneDNN addon: without it
// `--distributed mpi` says how to get it.
//
// Every collective runs on a libuv worker thread and answers with a Promise, so the main thread's
// event loop keeps running while a rank waits for the others: the JavaScript side can time a
// collective out (a rank that hangs) and can print its message when the launcher stops the job with
// SIGTERM (a rank that died). MPI is initialised with MPI_THREAD_MULTIPLE for that reason: the
// collectives are called from worker threads and MPI_Abort may come from the main thread meanwhile.
//
// Buffers are the caller's typed arrays, reduced in place (no copies); the caller keeps them alive
// and untouched until the Promise settles (a reference is held here too).
#include <dlfcn.h>
#include <mpi.h>
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

bool g_initialised = false;

MPI_Datatype TypeOf(const Napi::TypedArray& a) {
  switch (a.TypedArrayType()) {
    case napi_float32_array: return MPI_FLOAT;
    case napi_float64_array: return MPI_DOUBLE;
    case napi_int32_array: return MPI_INT;
    case napi_uint8_array: return MPI_BYTE;
    default: throw Napi::TypeError::New(a.Env(), "MPI: buffers must be Float32Array, Float64Array, Int32Array or Uint8Array");
  }
}

void RequireInit(Napi::Env env) {
  if (!g_initialised) throw Napi::Error::New(env, "MPI: call init() first");
}

std::string ErrorString(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, len);
}

// One collective on a worker thread. Large buffers go in pieces (see Execute).
class Collective : public Napi::AsyncWorker {
 public:
  enum Kind { kAllreduceSum, kAllgather, kBcast, kBarrier };
  Collective(Napi::Env env, Kind kind, Napi::TypedArray send, Napi::TypedArray recv, int root)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), kind_(kind), root_(root) {
    if (!send.IsEmpty()) {
      send_ref_ = Napi::Persistent(send.As<Napi::Object>());
      type_ = TypeOf(send);
      send_ = static_cast<uint8_t*>(send.ArrayBuffer().Data()) + send.ByteOffset();
      count_ = send.ElementLength();
      elem_ = send.ByteLength() / std::max<size_t>(1, send.ElementLength());
    }
    if (!recv.IsEmpty()) {
      recv_ref_ = Napi::Persistent(recv.As<Napi::Object>());
      recv_ = static_cast<uint8_t*>(recv.ArrayBuffer().Data()) + recv.ByteOffset();
      recv_count_ = recv.ElementLength();
    }
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    int rc = MPI_SUCCESS;
    // Pieces of 2^20 elements (4 MB of float32): Open MPI's shared-memory all-reduce falls off a
    // cliff above a few tens of MB here (one 369 MB call: 1.2 s; the same in 4 MB pieces: 0.07 s,
    // the small-message rate), whichever of its algorithms is forced.
    const size_t chunk = size_t(1) << 20;
    switch (kind_) {
      case kAllreduceSum:
        for (size_t at = 0; at < count_ && rc == MPI_SUCCESS; at += chunk)
          rc = MPI_Allreduce(MPI_IN_PLACE, send_ + at * elem_, int(std::min(chunk, count_ - at)), type_, MPI_SUM,
                             MPI_COMM_WORLD);
        break;
      case kBcast:
        for (size_t at = 0; at < count_ && rc == MPI_SUCCESS; at += chunk)
          rc = MPI_Bcast(send_ + at * elem_, int(std::min(chunk, count_ - at)), type_, root_, MPI_COMM_WORLD);
        break;
      case kAllgather:
        if (count_ > size_t(INT32_MAX)) {
          SetError("MPI allgather: block too large");
          return;
        }
        rc = MPI_Allgather(send_, int(count_), type_, recv_, int(count_), type_, MPI_COMM_WORLD);
        break;
      case kBarrier:
        rc = MPI_Barrier(MPI_COMM_WORLD);
        break;
    }
    if (rc != MPI_SUCCESS) SetError("MPI: " + ErrorString(rc));
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Kind kind_;
  int root_;
  Napi::ObjectReference send_ref_, recv_ref_;
  MPI_Datatype type_ = MPI_BYTE;
  uint8_t* send_ = nullptr;
  uint8_t* recv_ = nullptr;
  size_t count_ = 0, recv_count_ = 0, elem_ = 1;
};

Napi::TypedArray Arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "MPI: expected a typed array");
  return info[i].As<Napi::TypedArray>();
}

// init() -> { rank, size, threadLevel, version, processor }. Idempotent.
Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!g_initialised) {
    // Node loads addons with RTLD_LOCAL; Open MPI's plugins (dlopened by libmpi) expect libmpi's
    // symbols to be global. Re-opening the already-loaded library with RTLD_GLOBAL promotes them.
    for (const char* name : {"libmpi.so.40", "libmpi.so.12", "libmpi.so"})
      if (dlopen(name, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) break;
    // Open MPI's own SIGSEGV/SIGBUS handlers (backtraces) would replace V8's, which WebAssembly's
    // bounds checks rely on (the wasm backend): leave signals to Node unless the user set it.
    setenv("OMPI_MCA_opal_signal", "", 0);
    int provided = 0;
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    if (rc != MPI_SUCCESS) throw Napi::Error::New(env, "MPI_Init_thread failed: " + ErrorString(rc));
    if (provided < MPI_THREAD_MULTIPLE) {
      MPI_Finalize();
      throw Napi::Error::New(env, "MPI: this MPI library does not provide MPI_THREAD_MULTIPLE (Open MPI built with thread support does)");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    g_initialised = true;
  }
  int rank = 0, size = 1, provided = 0, len = 0, vlen = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Query_thread(&provided);
  char host[MPI_MAX_PROCESSOR_NAME];
  MPI_Get_processor_name(host, &len);
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(version, &vlen);
  std::string v(version, vlen);
  if (auto nl = v.find_first_of(",\n"); nl != std::string::npos) v = v.substr(0, nl);
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", rank);
  o.Set("size", size);
  o.Set("threadLevel", provided);
  o.Set("processor", std::string(host, len));
  o.Set("version", v);
  return o;
}

Napi::Value AllreduceSum(const Napi::CallbackInfo& info) {
  RequireInit(info.Env());
  auto* w = new Collective(info.Env(), Collective::kAllreduceSum, Arg(info, 0), Napi::TypedArray(), 0);
  w->Queue();
  return w->Promise();
}

Napi::Value Allgather(const Napi::CallbackInfo& info) {
  RequireInit(info.Env());
  Napi::TypedArray send = Arg(info, 0), recv = Arg(info, 1);
  if (send.TypedArrayType() != recv.TypedArrayType()) throw Napi::TypeError::New(info.Env(), "MPI allgather: send and receive types differ");
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (recv.ElementLength() != send.ElementLength() * size_t(size))
    throw Napi::RangeError::New(info.Env(), "MPI allgather: the receive buffer must hold size x the send buffer");
  auto* w = new Collective(info.Env(), Collective::kAllgather, send, recv, 0);
  w->Queue();
  return w->Promise();
}

Napi::Value Bcast(const Napi::CallbackInfo& info) {
  RequireInit(info.Env());
  auto* w = new Collective(info.Env(), Collective::kBcast, Arg(info, 0), Napi::TypedArray(), info[1].As<Napi::Number>().Int32Value());
  w->Queue();
  return w->Promise();
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  RequireInit(info.Env());
  auto* w = new Collective(info.Env(), Collective::kBarrier, Napi::TypedArray(), Napi::TypedArray(), 0);
  w->Queue();
  return w->Promise();
}

// abort(code): ends every rank of the job now (MPI_Abort), from any thread.
Napi::Value Abort(const Napi::CallbackInfo& info) {
  if (g_initialised) MPI_Abort(MPI_COMM_WORLD, info.Length() > 0 ? info[0].As<Napi::Number>().Int32Value() : 1);
  return info.Env().Undefined();
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (g_initialised) {
    MPI_Finalize();
    g_initialised = false;
  }
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Start));
  exports.Set("allreduceSum", Napi::Function::New(env, AllreduceSum));
  exports.Set("allgather", Napi::Function::New(env, Allgather));
  exports.Set("bcast", Napi::Function::New(env, Bcast));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  return exports;
}

NODE_API_MODULE(nth_mpi, Module)
