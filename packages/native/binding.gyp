# One addon. scripts/build.mjs sets the variables: bundlefarm_libdeflate=yes when libdeflate.h was
# found (the deflate pieces and CRC-32 are then compiled in, see src/binding.c), bundlefarm_werror=no
# only to retry a build that a newer compiler's new warnings broke.
{
  "variables": {
    "bundlefarm_libdeflate%": "no",
    "bundlefarm_libdeflate_include%": "",
    "bundlefarm_werror%": "yes"
  },
  "targets": [
    {
      "target_name": "bundlefarm_native",
      "sources": ["src/binding.c", "src/walker.c", "src/data-runs.c", "src/aes-cbc.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-pthread"],
      "libraries": ["-ldl", "-pthread"],
      "conditions": [
        ["bundlefarm_libdeflate=='yes'", {
          "sources": ["src/piece.c"],
          "defines": ["HAVE_LIBDEFLATE"],
          "libraries": ["-ldeflate"]
        }],
        ["bundlefarm_libdeflate=='yes' and bundlefarm_libdeflate_include!=''", {
          "include_dirs": ["<(bundlefarm_libdeflate_include)"]
        }],
        ["bundlefarm_werror=='yes'", {
          "cflags": ["-Werror"]
        }]
      ]
    }
  ]
}
