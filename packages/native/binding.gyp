{
  "targets": [
    {
      "target_name": "bundlefarm_native",
      "sources": ["src/binding.c", "src/deflate-piece.c", "src/data-runs.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "libraries": ["-ldeflate"]
    }
  ]
}
