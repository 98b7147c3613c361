{
  "targets": [
    {
      "target_name": "weft_native",
      "sources": ["weft_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
