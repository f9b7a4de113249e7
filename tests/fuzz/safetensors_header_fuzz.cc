// libFuzzer target: the safetensors header parser (worker/prune). The first
// 8 bytes of the input are the data section size, the rest the JSON header.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "worker/prune/safetensors_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t data_size = 0;
  if (size >= 8) {
    std::memcpy(&data_size, data, 8);
    data += 8;
    size -= 8;
    data_size %= (uint64_t{1} << 40);
  }
  absl::string_view json(reinterpret_cast<const char*>(data), size);
  cohort::worker::prune::ParseSafetensorsHeader(json, data_size, "fuzz.safetensors")
      .IgnoreError();
  return 0;
}
