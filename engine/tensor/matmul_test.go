package tensor

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// Fast kernels quantize activations to 8 bits, so for quantized weights
// they match the reference within the rounding noise of that step:
// |error| has standard deviation about ‖w‖·amax(x)/(127·√12), so errScale
// returns ‖w‖·amax(x)/127 and the tolerance is 2 of those (about 7σ; a
// single wrong sub-block would be several times larger). Float kernels
// differ by summation order, relative to Σ|w·x|, and for F16 by rounding
// the activations to F16 as ggml does: at most 2^-11 of Σ|w·x|.
var fastTol = map[Type]float64{
	F32: 1e-5, F16: 5e-4, BF16: 1e-5, Q8_0: 2, Q4_0: 2, Q4_K: 2, Q5_K: 2, Q6_K: 2,
}

func randMatrix(t testing.TB, r *rand.Rand, typ Type, rows, cols int) Matrix {
	data, err := Quantize(typ, randVec(r, rows*cols))
	if err != nil {
		t.Fatal(err)
	}
	return Matrix{Type: typ, Rows: rows, Cols: cols, Data: data}
}

func absDot(typ Type, row []byte, x []float32) float64 {
	w := make([]float32, len(x))
	dequantize(typ, row, w)
	if typ.BlockSize() == 1 {
		var s float64
		for i := range w {
			s += math.Abs(float64(w[i]) * float64(x[i]))
		}
		return s
	}
	var w2, amax float64
	for i := range w {
		w2 += float64(w[i]) * float64(w[i])
		amax = max(amax, math.Abs(float64(x[i])))
	}
	return math.Sqrt(w2) * amax / 127
}

func checkClose(t *testing.T, typ Type, got, want float32, scale float64, what string) {
	t.Helper()
	if d := math.Abs(float64(got) - float64(want)); d > fastTol[typ]*scale+1e-6 || math.IsNaN(float64(got)) {
		t.Errorf("%v %s: fast %v ref %v (|diff| %.3g, scale %.3g)", typ, what, got, want, d, scale)
	}
}

// forEachKernelSet runs f once per kernel set this CPU supports (only the
// assembly ones when asmOnly), restoring the active set afterwards.
func forEachKernelSet(t *testing.T, asmOnly bool, f func(t *testing.T)) {
	active := Kernels()
	defer func() {
		for _, ks := range kernelSets {
			if ks.name == active {
				ks.use()
			}
		}
	}()
	ran := false
	for _, ks := range kernelSets {
		if asmOnly && ks.name == "go" {
			continue
		}
		ks.use()
		ran = true
		t.Run(ks.name, f)
	}
	if !ran {
		t.Skip("no assembly kernels on this CPU")
	}
}

func TestDotFastVsRef(t *testing.T) { forEachKernelSet(t, false, testDotFastVsRef) }

func testDotFastVsRef(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range allTypes {
		for _, cols := range []int{256, 512, 1024, 768} {
			m := randMatrix(t, r, typ, 3, cols)
			for row := 0; row < m.Rows; row++ {
				x := randVec(r, cols)
				got := Dot(typ, m.Row(row), x)
				want := DotRef(typ, m.Row(row), x)
				checkClose(t, typ, got, want, absDot(typ, m.Row(row), x), "Dot")
			}
		}
	}
}

func TestMatMulVsRef(t *testing.T) { forEachKernelSet(t, false, testMatMulVsRef) }

func testMatMulVsRef(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, typ := range allTypes {
		colsList := []int{512}
		if typ.BlockSize() <= 32 {
			colsList = append(colsList, 96) // odd block count, not a multiple of 64
		}
		if typ.BlockSize() == 1 {
			colsList = append(colsList, 100) // float tail after the vector loop
		}
		for _, cols := range colsList {
			for _, n := range []int{1, 3, 5, 8} {
				for _, threads := range []int{1, 2, 3} {
					m := randMatrix(t, r, typ, 37, cols)
					x := randVec(r, n*m.Cols)
					y := make([]float32, n*m.Rows)
					want := make([]float32, n*m.Rows)
					MatMul(m, x, n, y, threads)
					MatMulRef(m, x, n, want)
					for i := 0; i < n; i++ {
						for row := 0; row < m.Rows; row++ {
							k := i*m.Rows + row
							checkClose(t, typ, y[k], want[k], absDot(typ, m.Row(row), x[i*m.Cols:(i+1)*m.Cols]), "MatMul")
						}
					}
					if n == 1 {
						v := make([]float32, m.Rows)
						MatVecRef(m, x, v)
						for k := range v {
							if v[k] != want[k] {
								t.Fatalf("MatVecRef differs from MatMulRef at %d", k)
							}
						}
					}
				}
			}
		}
	}
}

// Exact small case: F32 weights and activations that are small integers give
// exact products, so the fast path must match to the last bit.
func TestMatMulExactF32(t *testing.T) {
	w := []float32{1, 2, 3, 4, -1, 0, 2, 5}
	data, _ := Quantize(F32, w)
	m := Matrix{Type: F32, Rows: 2, Cols: 4, Data: data}
	x := []float32{1, 1, 1, 1, 2, 0, -1, 3}
	y := make([]float32, 4)
	MatMul(m, x, 2, y, 2)
	want := []float32{10, 6, 2 - 3 + 12, -2 - 2 + 15}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("y = %v want %v", y, want)
		}
	}
}

func TestMatMulNonFinite(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	m := randMatrix(t, r, Q4_K, 2, 256)
	x := randVec(r, 256)
	x[10] = float32(math.Inf(1))
	y := make([]float32, 2)
	MatMul(m, x, 1, y, 1)
	if !math.IsNaN(float64(y[0])) && !math.IsInf(float64(y[0]), 0) {
		t.Errorf("Inf activation produced finite %v", y[0])
	}
}

func TestMatMulShapePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("mismatched x did not panic")
		}
	}()
	m := Matrix{Type: F32, Rows: 2, Cols: 4, Data: make([]byte, 32)}
	MatMul(m, make([]float32, 3), 1, make([]float32, 2), 1)
}

func FuzzDotFastVsRef(f *testing.F) {
	f.Add(uint8(0), uint64(1), []byte{})
	f.Add(uint8(5), uint64(2), make([]byte, 210))
	f.Fuzz(func(t *testing.T, ti uint8, seed uint64, raw []byte) {
		typ := allTypes[int(ti)%len(allTypes)]
		bs := typ.BlockBytes()
		nblk := len(raw) / bs
		if nblk == 0 || nblk > 16 {
			return
		}
		row := raw[:nblk*bs]
		n := nblk * typ.BlockSize()
		w := make([]float32, n)
		dequantize(typ, row, w)
		for _, v := range w { // arbitrary bytes can hold Inf/NaN scales
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e4 {
				return
			}
		}
		r := rand.New(rand.NewPCG(seed, 0))
		x := randVec(r, n)
		want := DotRef(typ, row, x)
		active := Kernels()
		defer func() {
			for _, ks := range kernelSets {
				if ks.name == active {
					ks.use()
				}
			}
		}()
		for _, ks := range kernelSets {
			ks.use()
			checkClose(t, typ, Dot(typ, row, x), want, absDot(typ, row, x), "fuzz Dot "+ks.name)
		}
	})
}

func FuzzQuantizeRoundTrip(f *testing.F) {
	f.Add(uint8(3), uint64(1), float32(1))
	f.Add(uint8(6), uint64(5), float32(1e-3))
	f.Fuzz(func(t *testing.T, ti uint8, seed uint64, scale float32) {
		typ := allTypes[int(ti)%len(allTypes)]
		if math.IsNaN(float64(scale)) || math.Abs(float64(scale)) > 1e3 || math.Abs(float64(scale)) < 1e-3 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 1))
		x := randVec(r, 512)
		for i := range x {
			x[i] *= scale
		}
		q, err := Quantize(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, len(x))
		if err := Dequantize(typ, q, y); err != nil {
			t.Fatal(err)
		}
		if e := relRMS(x, y); e > 2*relRMSBound[typ]+1e-3 {
			t.Errorf("%v scale %v: rel err %v", typ, scale, e)
		}
	})
}

func TestRoundSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	vals := []float32{0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -127, 127, 0.49999997}
	for i := 0; i < 10000; i++ {
		vals = append(vals, float32(r.NormFloat64()*60))
	}
	for _, v := range vals {
		if got, want := roundSmall(v), int32(math.RoundToEven(float64(v))); got != want {
			t.Fatalf("roundSmall(%v) = %d want %d", v, got, want)
		}
	}
}

func TestMatMulEmpty(t *testing.T) {
	forEachKernelSet(t, false, func(t *testing.T) {
		for _, typ := range allTypes {
			for _, shape := range [][2]int{{0, 256}, {3, 0}, {0, 0}} {
				m := Matrix{Type: typ, Rows: shape[0], Cols: shape[1]}
				rb, _ := RowBytes(typ, m.Cols)
				m.Data = make([]byte, rb*m.Rows)
				for _, n := range []int{0, 1, 4} {
					x := make([]float32, n*m.Cols)
					y := make([]float32, n*m.Rows)
					for i := range y {
						y[i] = 7
					}
					MatMul(m, x, n, y, 2)
					for _, v := range y {
						if v != 0 {
							t.Fatalf("%v %v n=%d: y = %v, want zeros", typ, shape, n, y)
						}
					}
				}
				if m.Cols == 0 {
					if d := Dot(typ, nil, nil); d != 0 {
						t.Errorf("%v empty Dot = %v", typ, d)
					}
				}
			}
		}
	})
}

func TestMatMulTinyActivations(t *testing.T) {
	forEachKernelSet(t, false, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, typ := range allTypes {
			m := randMatrix(t, r, typ, 4, 512)
			x := make([]float32, 4*512)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 1e-37)
			}
			y := make([]float32, 16)
			MatMul(m, x, 4, y, 1)
			for _, v := range y {
				if math.IsNaN(float64(v)) || math.Abs(float64(v)) > 1e-30 {
					t.Fatalf("%v: tiny activations gave %v", typ, y)
				}
			}
		}
	})
}

// TestParallelFor checks that every index runs exactly once, worker numbers
// stay below threads and are never shared by two goroutines at once.
func TestParallelFor(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		for _, n := range []int{0, 1, 2, 7, 100} {
			var seen [100]atomic.Int32
			var busy [8]atomic.Int32
			ParallelFor(n, threads, func(w, i int) {
				if w < 0 || w >= threads {
					t.Errorf("worker %d with %d threads", w, threads)
					return
				}
				if busy[w].Add(1) != 1 {
					t.Errorf("worker %d used by two goroutines", w)
				}
				seen[i].Add(1)
				busy[w].Add(-1)
			})
			for i := 0; i < n; i++ {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("threads %d n %d: index %d ran %d times", threads, n, i, c)
				}
			}
		}
	}
}

// TestQuantKernelsBitExact checks that every kernel set computes quantized
// products to the same bits as the Go kernels, which sum in ggml's order
// (see dotQ8_0Go and dotQ4KGo): through single rows, four-activation groups
// and many-row passes, with even and odd block counts.
func TestQuantKernelsBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []Type{Q8_0, Q4_0, Q4_K, Q5_K, Q6_K} {
		shapes := [][2]int{{37, 64}, {37, 96}, {37, 512}, {300, 512}}
		if typ.BlockSize() == QK_K {
			shapes = [][2]int{{37, 256}, {37, 768}, {300, 1024}}
		}
		for _, shape := range shapes {
			rows, cols := shape[0], shape[1]
			w := make([]float32, rows*cols)
			for i := range w {
				w[i] = float32(r.NormFloat64())
			}
			data, err := Quantize(typ, w)
			if err != nil {
				t.Fatal(err)
			}
			m := Matrix{Type: typ, Rows: rows, Cols: cols, Data: data}
			for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 19} {
				x := make([]float32, n*cols)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 3)
				}
				for _, each := range []bool{false, true} {
					var want []float32
					forEachKernelSet(t, false, func(t *testing.T) {
						y := make([]float32, n*rows)
						if each {
							MatMulEach(m, x, n, y, 1)
						} else {
							MatMul(m, x, n, y, 1)
						}
						if Kernels() == "go" {
							want = y
							return
						}
						for i := range y {
							if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%v cols=%d n=%d each=%v: y[%d] = %v, Go kernels %v", typ, cols, n, each, i, y[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}

// TestQ4KProductOrders checks which order each activation of a Q4_K product
// is summed in: llama.cpp's gemm order for the groups of four, its gemv
// order for the n mod 4 after them and for every row of MatMulEach.
func TestQ4KProductOrders(t *testing.T) {
	forEachKernelSet(t, false, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		const rows, cols, n = 24, 512, 7
		m := randMatrix(t, r, Q4_K, rows, cols)
		x := randVec(r, n*cols)
		a := prepareAct(Q4_K, x, n, cols)
		defer a.release()
		y, ye := make([]float32, n*rows), make([]float32, n*rows)
		MatMul(m, x, n, y, 2)
		MatMulEach(m, x, n, ye, 2)
		differ := 0
		for i := 0; i < n; i++ {
			qs, d, bs := a.row(i)
			for row := 0; row < rows; row++ {
				single := dotQ4KGo(m.Row(row), qs, d, bs)
				want := single
				if i < 4 {
					want = dotQ4KBatchGo(m.Row(row), qs, d, bs)
					if want != single {
						differ++
					}
				}
				if got := y[i*rows+row]; math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("MatMul act %d row %d = %v, want %v", i, row, got, want)
				}
				if got := ye[i*rows+row]; math.Float32bits(got) != math.Float32bits(single) {
					t.Fatalf("MatMulEach act %d row %d = %v, want %v", i, row, got, single)
				}
			}
		}
		if differ == 0 {
			t.Fatal("the two orders agreed on every product; the test shows nothing")
		}
	})
}

// TestFloatProductOrders checks every kernel set's float products against
// the orders of llama.cpp's (see planFloat), to the bit: a batch in
// tinyBLAS's order, a single row or MatMulEach in ggml_vec_dot's, F16
// activations rounded to F16 first.
func TestFloatProductOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, typ := range []Type{F32, F16, BF16} {
		for _, shape := range [][2]int{{36, 64}, {36, 144}, {36, 512}, {37, 512}} {
			cols := shape[1]
			m := randMatrix(t, r, typ, shape[0], cols)
			for _, n := range []int{1, 2, 5, 8} {
				x := randVec(r, n*cols)
				for _, each := range []bool{false, true} {
					want := make([]float32, n*m.Rows)
					wf, xr := make([]float32, cols), append([]float32(nil), x...)
					if typ == F16 {
						roundF16Go(x, xr)
					}
					for row := 0; row < m.Rows; row++ {
						dequantize(typ, m.Row(row), wf)
						for i := 0; i < n; i++ {
							xi := xr[i*cols : (i+1)*cols]
							if n >= 2 && !each && cols%16 == 0 && m.Rows%4 == 0 {
								want[i*m.Rows+row] = dotF32x16Go(wf, xi)
							} else {
								want[i*m.Rows+row] = dotSingleGo(typ, wf, xi)
							}
						}
					}
					forEachKernelSet(t, false, func(t *testing.T) {
						y := make([]float32, n*m.Rows)
						if each {
							MatMulEach(m, x, n, y, 2)
						} else {
							MatMul(m, x, n, y, 2)
						}
						for i := range y {
							if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%v cols=%d n=%d each=%v: y[%d] = %v, want %v", typ, cols, n, each, i, y[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}

// dotSingleGo is dotSingle on the Go kernels alone.
func dotSingleGo(t Type, w, x []float32) float32 {
	saved := dotF32x64
	defer func() { dotF32x64 = saved }()
	dotF32x64 = dotF32x64Go
	return dotSingle(t, w, x)
}
