package tensor

// kernelSet is one selectable implementation of the kernel table; tests run
// every set this CPU supports.
type kernelSet struct {
	name string
	use  func()
}

// kernelSets lists the sets this CPU can run, best last; assembly init code
// appends to it.
var kernelSets = []kernelSet{{"go", useGo}}

var kernelName = "go"

// Kernels names the active kernel set: "avx512-vnni", "avx2" or "go".
// MAOPAO_NOASM=1 in the environment (or the noasm build tag) forces "go";
// MAOPAO_KERNELS=<name> picks any set the CPU supports.
func Kernels() string { return kernelName }

// useGo resets the kernel table to the pure-Go kernels.
func useGo() {
	kernelName = "go"
	quantActRows = nil
	dotF32, dotF16, dotBF16 = dotF32Go, dotF16Go, dotBF16Go
	expSum, maxF32, swiglu = expSumGo, maxF32Go, swigluGo
	dotF32x16, dotF32x64 = dotF32x16Go, dotF32x64Go
	dotF32x16Rows, dotF32x64Rows = nil, nil
	roundF16 = roundF16Go
	f16s = f16sGo
	dotQ8_0, dotQ4_0, dotQ4K, dotQ5K, dotQ6K = dotQ8_0Go, dotQ4_0Go, dotQ4KGo, dotQ5KGo, dotQ6KGo
	dotF32x4, dotF16x4, dotBF16x4 = nil, nil, nil
	dotF32Rows, dotF16Rows, dotBF16Rows = nil, nil, nil
	dotF32x4Rows, dotF16x4Rows, dotBF16x4Rows = nil, nil, nil
	dotF32x4Rows64, dotF16x4Rows64, dotBF16x4Rows64 = nil, nil, nil
	dotQ4Kx4, dotQ5Kx4, dotQ6Kx4, dotQ8_0x4, dotQ4_0x4 = nil, nil, nil, nil, nil
	dotQ4KRows, dotQ5KRows, dotQ6KRows, dotQ4_0Rows = nil, nil, nil, nil
	dotQ4Kx4Rows, dotQ5Kx4Rows, dotQ6Kx4Rows, dotQ4_0x4Rows = nil, nil, nil, nil
	dotQ4Kx4Each, dotQ4Kx4RowsEach, dotQ4Kx8RowsEach = nil, nil, nil
	dotQ4KTailRows, dotQ5KTailRows, dotQ6KTailRows = [4]qkernel4Rows{}, [4]qkernel4Rows{}, [4]qkernel4Rows{}
	dotQ8_0Pairs = nil
	q4kBatchPerm = false
}
