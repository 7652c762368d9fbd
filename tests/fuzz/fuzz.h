/* fuzz.h — every harness is a libFuzzer entry point; replay.c runs the
 * checked-in corpus through it without a fuzzing toolchain (make check),
 * `make fuzz` builds it with clang -fsanitize=fuzzer for real fuzzing. */
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
