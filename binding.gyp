{
  "variables": {
    "openblas_inc": "<!(pkg-config --cflags-only-I openblas 2>/dev/null | sed 's/-I//g')",
    "speedlimits_version": "<!(node -p \"require('./package.json').version\")"
  },
  "targets": [
    {
      "target_name": "speedlimits_core",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native/core').filter(f => f.endsWith('.cpp')).map(f => 'native/core/' + f).join(' ')\")"],
      "include_dirs": ["native", "<@(openblas_inc)"],
      "defines": ["SPEEDLIMITS_HAVE_BLAS=1", "SPEEDLIMITS_VERSION=\"<(speedlimits_version)\""],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-fexceptions", "-frtti"],
      "direct_dependent_settings": {
        "include_dirs": ["native"],
        "defines": ["SPEEDLIMITS_HAVE_BLAS=1"]
      }
    },
    {
      "target_name": "speedlimits_native",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native/addon').filter(f => f.endsWith('.cpp')).map(f => 'native/addon/' + f).join(' ')\")"],
      "dependencies": [
        "speedlimits_core",
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions"],
      "libraries": ["<!@(pkg-config --libs openblas lapacke)", "-lgomp"]
    }
  ]
}
