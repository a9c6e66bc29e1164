{
  "targets": [
    {
      "target_name": "bundlefarm_native",
      "sources": ["src/binding.c", "src/piece.c", "src/walker.c", "src/data-runs.c", "src/aes-cbc.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra"],
      "libraries": ["-ldeflate", "-ldl"]
    }
  ]
}
