{
  "targets": [
    {
      "target_name": "nth_native",
      "sources": ["addon.cc", "onednn.cc", "elementwise.cc", "reduce.cc", "movement.cc", "fused.cc", "inference.cc", "winograd.cc", "softmax.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-O3", "-fopenmp", "-std=c++17", "-march=x86-64-v2", "-ffp-contract=off", "-fno-trapping-math", "-Wno-psabi"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
