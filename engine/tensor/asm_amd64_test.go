//go:build amd64 && !noasm

package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randRow fills a row with random bytes (every nibble and bit pattern,
// including -128 int8 weights) and then writes sane f16 scales so the
// values stay finite.
func randRow(r *rand.Rand, typ Type, nblk int) []byte {
	bb := typ.BlockBytes()
	row := make([]byte, nblk*bb)
	for i := range row {
		row[i] = byte(r.Uint32())
	}
	for b := 0; b < nblk; b++ {
		blk := row[b*bb:]
		switch typ {
		case Q4_0, Q8_0:
			putF16(blk, float32(r.NormFloat64()))
		case Q4_K, Q5_K:
			putF16(blk, float32(r.NormFloat64()))
			putF16(blk[2:], float32(r.NormFloat64()))
		case Q6_K:
			putF16(blk[208:], float32(r.NormFloat64()))
		case F16, BF16:
			for i := 0; i < bb; i += 2 {
				v := float32(r.NormFloat64())
				if typ == F16 {
					putF16(blk[i:], v)
				} else {
					blk[i], blk[i+1] = byte(F32ToBF16(v)), byte(F32ToBF16(v)>>8)
				}
			}
		case F32:
			for i := 0; i < bb; i += 4 {
				u := math.Float32bits(float32(r.NormFloat64()))
				blk[i], blk[i+1], blk[i+2], blk[i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			}
		}
	}
	return row
}

// TestAsmMatchesGo compares each assembly kernel with its pure-Go twin on
// the same prepared activations: the quantized ones to the bit, the float
// ones (whose Go twins sum in another order) within rounding.
func TestAsmMatchesGo(t *testing.T) {
	forEachKernelSet(t, true, testAsmMatchesGo)
}

func testAsmMatchesGo(t *testing.T) {
	goK := map[Type]qkernel{Q8_0: dotQ8_0Go, Q4_0: dotQ4_0Go, Q4_K: dotQ4KGo, Q5_K: dotQ5KGo, Q6_K: dotQ6KGo}
	r := rand.New(rand.NewPCG(11, 12))
	for _, typ := range allTypes {
		for _, cols := range []int{256, 512, 1024 + 256, 4096, 288} {
			if cols%typ.BlockSize() != 0 {
				continue
			}
			if typ.BlockSize() == 1 {
				cols += 7 // exercise the Go tail after the vector loop
			}
			for trial := 0; trial < 20; trial++ {
				row := randRow(r, typ, cols/typ.BlockSize())
				x := randVec(r, cols)
				if trial == 0 {
					for i := range x { // saturate the activation quantizer
						x[i] = float32(1 - 2*(i%2))
					}
				}
				a := prepareAct(typ, x, 1, cols)
				var got, want float32
				var scale float64
				switch typ {
				case F32:
					got, want = dotF32(asF32(row), x), dotF32Go(asF32(row), x)
				case F16:
					got, want = dotF16(row, x), dotF16Go(row, x)
				case BF16:
					got, want = dotBF16(row, x), dotBF16Go(row, x)
				default:
					got = dotAct(typ, row, a, 0, nil)
					want = goK[typ](row, a.qs, a.d, a.bsums)
				}
				w := make([]float32, cols)
				dequantize(typ, row, w)
				for i := range w {
					scale += math.Abs(float64(w[i]) * float64(x[i]))
				}
				a.release()
				if d := math.Abs(float64(got - want)); d > 1e-5*scale+1e-6 ||
					typ.BlockSize() > 1 && math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%v cols %d trial %d: asm %v go %v", typ, cols, trial, got, want)
				}
			}
		}
	}
}

// TestAsmFourWay checks the 4-activation K-quant kernels against the
// pure-Go single-activation kernels on random weight bytes.
func TestAsmFourWay(t *testing.T) {
	forEachKernelSet(t, true, testAsmFourWay)
}

// fourWayCases pairs each 4-activation kernel with the single-activation Go
// kernel that sums in its order: Q4_K has one for batches (MatMul) and one
// for rows taken alone (MatMulEach).
func fourWayCases() []struct {
	typ  Type
	k4   qkernel4
	k4r  qkernel4Rows
	goK  qkernel
	name string
	perm bool // activations packed as the kernel reads them (q4kBatchPerm)
} {
	type c = struct {
		typ  Type
		k4   qkernel4
		k4r  qkernel4Rows
		goK  qkernel
		name string
		perm bool
	}
	return []c{
		{Q4_K, dotQ4Kx4, dotQ4Kx4Rows, dotQ4KBatchGo, "Q4_K", q4kBatchPerm},
		{Q4_K, dotQ4Kx4Each, dotQ4Kx4RowsEach, dotQ4KGo, "Q4_K each", false},
		{Q5_K, dotQ5Kx4, dotQ5Kx4Rows, dotQ5KGo, "Q5_K", false},
		{Q6_K, dotQ6Kx4, dotQ6Kx4Rows, dotQ6KGo, "Q6_K", false},
		{Q8_0, dotQ8_0x4, nil, dotQ8_0Go, "Q8_0", false},
		{Q4_0, dotQ4_0x4, dotQ4_0x4Rows, dotQ4_0Go, "Q4_0", false},
	}
}

func testAsmFourWay(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, kc := range fourWayCases() {
		typ, gk := kc.typ, kc.goK
		if kc.k4 == nil {
			continue // e.g. Q8_0 on AVX-512, which has the pairs kernels
		}
		for _, nchunk := range []int{1, 3} {
			cols := nchunk * packChunk(actBlock(typ))
			nblk := cols / typ.BlockSize()
			row := randRow(r, typ, nblk)
			x := randVec(r, 9*cols)
			a := prepareAct(typ, x, 9, cols)
			a.pack(0, 2, 0, kc.perm)
			ng := len(a.bsums) / 9
			for g := 0; g < 2; g++ {
				var out [4]float32
				var bs []int16
				if len(a.pbs) > 0 {
					bs = a.pbs[4*g*ng : 4*(g+1)*ng]
				}
				kc.k4(row, a.pqs[4*g*cols:4*(g+1)*cols], a.pd[4*g*nblk:4*(g+1)*nblk], bs, &out)
				for j := 0; j < 4; j++ {
					i := 4*g + j
					want := gk(row, a.qs[i*cols:(i+1)*cols], a.d[i*nblk:(i+1)*nblk], a.bsums[i*ng:(i+1)*ng])
					if math.Float32bits(out[j]) != math.Float32bits(want) {
						t.Errorf("%s cols %d act %d: 4-way %v, go %v", kc.name, cols, i, out[j], want)
					}
				}
			}
			a.release()
		}
	}
}

// TestQuantActAsm requires the assembly activation quantizer to match the
// Go one bit for bit, including all-zero and non-finite blocks.
func TestQuantActAsm(t *testing.T) {
	forEachKernelSet(t, true, testQuantActAsm)
}

func testQuantActAsm(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, blk := range []int{32, 256} {
		nb := 6
		x := randVec(r, nb*blk)
		for i := range x {
			x[i] *= float32(1 + 50*r.Float64())
		}
		x[3] = 0.5 * 127 / 2 // exercise ties once scaled
		for i := blk; i < 2*blk; i++ {
			x[i] = 0
		}
		x[2*blk+5] = float32(math.NaN())
		x[3*blk+7] = float32(math.Inf(-1))
		x[4*blk] = -1e-30
		for i := 5 * blk; i < 6*blk; i++ {
			x[i] = 1e-36 // below actTiny: 127/amax would overflow
		}
		q, d, bs := make([]int8, len(x)), make([]float32, nb), make([]int16, len(x)/16)
		quantActRows(x, q, d, bs, blk)
		for b := 0; b < nb; b++ {
			var wq [256]int8
			var wd float32
			quantAct(x[b*blk:(b+1)*blk], wq[:blk], &wd)
			if math.Float32bits(wd) != math.Float32bits(d[b]) && !(math.IsNaN(float64(wd)) && math.IsNaN(float64(d[b]))) {
				t.Errorf("blk %d block %d: scale %v want %v", blk, b, d[b], wd)
			}
			for i := 0; i < blk; i++ {
				if q[b*blk+i] != wq[i] {
					t.Fatalf("blk %d block %d elem %d: q %d want %d", blk, b, i, q[b*blk+i], wq[i])
				}
			}
			for g := 0; g < blk/16; g++ {
				if want := sum8(wq[16*g : 16*g+16]); bs[b*blk/16+g] != want {
					t.Errorf("blk %d block %d group %d: sum %d want %d", blk, b, g, bs[b*blk/16+g], want)
				}
			}
		}
	}
}

// TestAsmRows checks the many-row single-activation kernels against the
// pure-Go kernel row by row, for row counts around the tile sizes and both
// even and odd block counts.
func TestAsmRows(t *testing.T) {
	forEachKernelSet(t, true, testAsmRows)
}

func testAsmRows(t *testing.T) {
	goK := map[Type]qkernel{Q4_K: dotQ4KGo, Q5_K: dotQ5KGo, Q6_K: dotQ6KGo, Q4_0: dotQ4_0Go}
	r := rand.New(rand.NewPCG(17, 18))
	for typ, gk := range goK {
		kr := qkernelRowsFor(typ)
		if kr == nil {
			continue
		}
		for _, cols := range []int{96, 256, 512, 1024 + 256} {
			if cols%typ.BlockSize() != 0 {
				continue
			}
			for _, nrows := range []int{1, 2, 17} {
				nblk := cols / typ.BlockSize()
				rows := randRow(r, typ, nrows*nblk)
				rb := len(rows) / nrows
				x := randVec(r, cols)
				a := prepareAct(typ, x, 1, cols)
				out := make([]float32, nrows)
				kr(rows, a, 0, out)
				for i := range out {
					want := gk(rows[i*rb:(i+1)*rb], a.qs, a.d, a.bsums)
					if math.Float32bits(out[i]) != math.Float32bits(want) {
						t.Errorf("%v cols %d rows %d row %d: rows kernel %v, go %v", typ, cols, nrows, i, out[i], want)
					}
				}
				a.release()
			}
		}
	}
}

// TestAsmFourWayRows checks the many-row 4-activation kernels against the
// pure-Go single-activation kernels, including the strided output.
func TestAsmFourWayRows(t *testing.T) {
	forEachKernelSet(t, true, testAsmFourWayRows)
}

func testAsmFourWayRows(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, kc := range fourWayCases() {
		typ, gk, k4r := kc.typ, kc.goK, kc.k4r
		if k4r == nil {
			continue
		}
		for _, nchunk := range []int{1, 3} {
			for _, nrows := range []int{1, 5, 16} {
				cols := nchunk * packChunk(actBlock(typ))
				nblk := cols / typ.BlockSize()
				rows := randRow(r, typ, nrows*nblk)
				rb := len(rows) / nrows
				x := randVec(r, 4*cols)
				a := prepareAct(typ, x, 4, cols)
				a.pack(0, 1, 0, kc.perm)
				const ostride = 19
				out := make([]float32, 3*ostride+nrows)
				k4r(rows, a.pqs, a.pd, a.pbs, nrows, out, ostride)
				for j := 0; j < 4; j++ {
					qs, d, bs := a.row(j)
					for i := 0; i < nrows; i++ {
						want := gk(rows[i*rb:(i+1)*rb], qs, d, bs)
						if got := out[j*ostride+i]; math.Float32bits(got) != math.Float32bits(want) {
							t.Errorf("%v cols %d rows %d act %d row %d: %v, go %v", typ, cols, nrows, j, i, got, want)
						}
					}
				}
				a.release()
			}
		}
	}
}

// TestAsmQ8Pairs checks the two-rows-at-a-time Q8_0 kernels against the
// pure-Go single-activation kernel, to the bit: every group size (1 to 9
// activations, the 9th in a group of its own), odd and even block counts,
// odd row counts (the last row read alone), the strided output.
func TestAsmQ8Pairs(t *testing.T) {
	forEachKernelSet(t, true, func(t *testing.T) {
		if dotQ8_0Pairs == nil {
			t.Skip("no pairs kernel in this set")
		}
		r := rand.New(rand.NewPCG(23, 24))
		for n := 1; n <= 9; n++ {
			for _, nblk := range []int{1, 2, 3, 64} {
				for _, nrows := range []int{1, 2, 5, 16} {
					cols := 32 * nblk
					rows := randRow(r, Q8_0, nrows*nblk)
					rb := len(rows) / nrows
					x := randVec(r, n*cols)
					a := prepareAct(Q8_0, x, n, cols)
					a.q8pack(n)
					const ostride = 19
					groups := 0
					for first := 0; first < n; groups++ {
						size := q8GroupSize(n - first)
						out := make([]float32, (size-1)*ostride+nrows)
						dotQ8_0Pairs(rows, rb, a.pg[first*nblk*68:(first+size)*nblk*68], size, nrows, out, ostride)
						for j := 0; j < size; j++ {
							qs, d, bs := a.row(first + j)
							for i := 0; i < nrows; i++ {
								want := dotQ8_0Go(rows[i*rb:(i+1)*rb], qs, d, bs)
								if got := out[j*ostride+i]; math.Float32bits(got) != math.Float32bits(want) {
									t.Errorf("n %d blocks %d rows %d group of %d act %d row %d: %v, go %v", n, nblk, nrows, size, first+j, i, got, want)
								}
							}
						}
						first += size
					}
					if want := (n + 7) / 8; groups != want {
						t.Fatalf("%d activations were packed in %d groups, not %d", n, groups, want)
					}
					a.release()
				}
			}
		}
	})
}
