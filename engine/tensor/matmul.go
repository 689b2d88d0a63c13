package tensor

import (
	"fmt"
	"math"
	"sync/atomic"
)

// Matrix is Rows rows of Cols weights each, row-major, as GGUF stores a 2-D
// tensor with ne[0]=Cols and ne[1]=Rows.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte
}

// rowBytes assumes the matrix was validated.
func (m Matrix) rowBytes() int { return m.Cols / m.Type.BlockSize() * m.Type.BlockBytes() }

// Row returns the bytes of row r (no copy).
func (m Matrix) Row(r int) []byte {
	rb := m.rowBytes()
	return m.Data[r*rb : (r+1)*rb : (r+1)*rb]
}

// Check reports whether the matrix's type, shape and data length agree.
func (m Matrix) Check() error {
	if m.Rows < 0 || m.Cols < 0 {
		return fmt.Errorf("tensor: matrix has negative shape %dx%d", m.Rows, m.Cols)
	}
	rb, err := RowBytes(m.Type, m.Cols)
	if err != nil {
		return err
	}
	if m.Rows > 0 && rb > math.MaxInt/m.Rows {
		return fmt.Errorf("tensor: matrix %dx%d %v is too large", m.Rows, m.Cols, m.Type)
	}
	if len(m.Data) != rb*m.Rows {
		return fmt.Errorf("tensor: matrix %dx%d %v needs %d bytes, has %d", m.Rows, m.Cols, m.Type, rb*m.Rows, len(m.Data))
	}
	return nil
}

// mustShape panics on caller bugs (mismatched slices): these are programming
// errors inside the engine, never outside input, which gguf validates.
func mustShape(m Matrix, x []float32, n int, y []float32) {
	if err := m.Check(); err != nil {
		panic(err)
	}
	if n < 0 || len(x) != n*m.Cols || len(y) != n*m.Rows {
		panic(fmt.Sprintf("tensor: matmul %dx%d %v with n=%d: len(x)=%d (want %d), len(y)=%d (want %d)",
			m.Rows, m.Cols, m.Type, n, len(x), n*m.Cols, len(y), n*m.Rows))
	}
}

func mustRow(t Type, row []byte, x []float32) {
	rb, err := RowBytes(t, len(x))
	if err != nil {
		panic(err)
	}
	if len(row) != rb {
		panic(fmt.Sprintf("tensor: dot of %d %v weights: row has %d bytes, want %d", len(x), t, len(row), rb))
	}
}

// DotRef is the obviously-correct reference: dequantize, then accumulate in
// float64.
func DotRef(t Type, row []byte, x []float32) float32 {
	mustRow(t, row, x)
	w := make([]float32, len(x))
	dequantize(t, row, w)
	var s float64
	for i, v := range w {
		s += float64(v) * float64(x[i])
	}
	return float32(s)
}

// Dot is the fast single-row dot product of a weight row with x.
func Dot(t Type, row []byte, x []float32) float32 {
	mustRow(t, row, x)
	a := prepareAct(t, x, 1, len(x))
	defer a.release()
	return dotAct(t, row, a, 0, nil)
}

type qkernel func(row []byte, qs []int8, d []float32, bs []int16) float32

// qkernel4 computes one weight row against four activations packed block
// by block (see act.pack4), sharing the weight decoding among them.
type qkernel4 func(row []byte, qs []int8, d []float32, bs []int16, out *[4]float32)

// Kernel table; assembly init code may replace entries.
var (
	dotF32          = dotF32Go
	dotF16          = dotF16Go
	dotBF16         = dotBF16Go
	dotQ8_0 qkernel = dotQ8_0Go
	dotQ4_0 qkernel = dotQ4_0Go
	dotQ4K  qkernel = dotQ4KGo
	dotQ5K  qkernel = dotQ5KGo
	dotQ6K  qkernel = dotQ6KGo

	// nil unless assembly provides them
	dotF32x4, dotF16x4, dotBF16x4                      floatKernel4
	dotQ4Kx4, dotQ5Kx4, dotQ6Kx4, dotQ8_0x4, dotQ4_0x4 qkernel4
	dotQ4KRows, dotQ5KRows, dotQ6KRows, dotQ4_0Rows    qkernelRows

	dotQ4Kx4Rows, dotQ5Kx4Rows, dotQ6Kx4Rows, dotQ4_0x4Rows qkernel4Rows

	// Q4_K's 4-activation kernels in the single-row order (dotQ4KGo); the
	// ones above sum in the batch order (dotQ4KBatchGo). See MatMulEach.
	dotQ4Kx4Each     qkernel4
	dotQ4Kx4RowsEach qkernel4Rows
	dotQ4Kx8RowsEach qkernel4Rows // eight activations (act.pack), same order

	// K-quant kernels over the 2 or 3 activations left after a batch's
	// groups of four (index 2, 3; packed by act.pack), in the
	// single-row order.
	dotQ4KTailRows, dotQ5KTailRows, dotQ6KTailRows [4]qkernel4Rows

	// Q8_0 rows two at a time against a group of activations (act.q8pack).
	dotQ8_0Pairs q8PairsKernel

	// q4kBatchPerm: dotQ4Kx4 and dotQ4Kx4Rows read their activations
	// permuted within each block (act.packGroup's perm).
	q4kBatchPerm bool
)

// q8PairsKernel computes nrows Q8_0 weight rows of rowBytes each, back to
// back in rows, against one group of size activations (1 to 8)
// packed by act.q8pack: activation j's sums go to
// out[j*ostride : j*ostride+nrows], each to the bit what dotQ8_0Go gives.
type q8PairsKernel func(rows []byte, rowBytes int, group []byte, size, nrows int, out []float32, ostride int)

// batchKernelFor is the single-activation kernel for activations in a
// batch's groups of four where t sums those differently from a lone row
// (see MatMul), nil where it does not.
func batchKernelFor(t Type) qkernel {
	if t == Q4_K {
		return dotQ4KBatchGo
	}
	return nil
}

// qkernel4Rows is qkernel4 over nrows consecutive rows (back to back in
// rows): activation j's sums go to out[j*ostride : j*ostride+nrows].
type qkernel4Rows func(rows []byte, qs []int8, d []float32, bs []int16, nrows int, out []float32, ostride int)

func qkernel4RowsFor(t Type) qkernel4Rows {
	switch t {
	case Q4_K:
		return dotQ4Kx4Rows
	case Q5_K:
		return dotQ5Kx4Rows
	case Q6_K:
		return dotQ6Kx4Rows
	case Q4_0:
		return dotQ4_0x4Rows
	}
	return nil
}

// tailKernelFor is t's kernel for r (2 or 3) packed activations, nil where
// there is none.
func tailKernelFor(t Type, r int) qkernel4Rows {
	switch t {
	case Q4_K:
		return dotQ4KTailRows[r]
	case Q5_K:
		return dotQ5KTailRows[r]
	case Q6_K:
		return dotQ6KTailRows[r]
	}
	return nil
}

// qkernelRows computes len(out) weight rows, stored back to back in rows,
// against one prepared activation. It exists because a decode step's rows
// are short (a few hundred bytes): one call per row costs as much as the
// row's arithmetic.
// Activation i of a is used. (Q8_0 has the pairs kernels instead.)
type qkernelRows func(rows []byte, a *act, i int, out []float32)

func qkernelRowsFor(t Type) qkernelRows {
	switch t {
	case Q4_K:
		return dotQ4KRows
	case Q5_K:
		return dotQ5KRows
	case Q6_K:
		return dotQ6KRows
	case Q4_0:
		return dotQ4_0Rows
	}
	return nil
}

// floatKernel4 computes one float weight row against four activation rows
// that start stride floats apart in x.
type floatKernel4 func(row []byte, x []float32, stride int, out *[4]float32)

// floatKernelRows computes len(out) float weight rows (back to back in
// rows) against one activation x.
type floatKernelRows func(rows []byte, x []float32, out []float32)

// floatKernel4Rows computes nrows float weight rows against four
// activations (x holds them back to back); activation j's sums go to
// out[j*ostride : j*ostride+nrows].
type floatKernel4Rows func(rows []byte, x []float32, nrows int, out []float32, ostride int)

// nil unless assembly provides them
var (
	dotF32Rows, dotF16Rows, dotBF16Rows       floatKernelRows
	dotF32x4Rows, dotF16x4Rows, dotBF16x4Rows floatKernel4Rows
	// four activations each in the single-row order (dotSingle)
	dotF32x4Rows64, dotF16x4Rows64, dotBF16x4Rows64 floatKernel4Rows
)

func floatKernel4Rows64For(t Type) floatKernel4Rows {
	switch t {
	case F32:
		return dotF32x4Rows64
	case F16:
		return dotF16x4Rows64
	case BF16:
		return dotBF16x4Rows64
	}
	return nil
}

func floatKernelRowsFor(t Type) floatKernelRows {
	switch t {
	case F32:
		return dotF32Rows
	case F16:
		return dotF16Rows
	case BF16:
		return dotBF16Rows
	}
	return nil
}

func floatKernel4RowsFor(t Type) floatKernel4Rows {
	switch t {
	case F32:
		return dotF32x4Rows
	case F16:
		return dotF16x4Rows
	case BF16:
		return dotBF16x4Rows
	}
	return nil
}

func floatKernel4For(t Type) floatKernel4 {
	switch t {
	case F32:
		return dotF32x4
	case F16:
		return dotF16x4
	case BF16:
		return dotBF16x4
	}
	return nil
}

func qkernel4For(t Type) qkernel4 {
	switch t {
	case Q4_K:
		return dotQ4Kx4
	case Q5_K:
		return dotQ5Kx4
	case Q6_K:
		return dotQ6Kx4
	case Q8_0:
		return dotQ8_0x4
	case Q4_0:
		return dotQ4_0x4
	}
	return nil
}

func qkernelFor(t Type) qkernel {
	switch t {
	case Q8_0:
		return dotQ8_0
	case Q4_0:
		return dotQ4_0
	case Q4_K:
		return dotQ4K
	case Q5_K:
		return dotQ5K
	case Q6_K:
		return dotQ6K
	}
	return nil
}

// dotAct computes row·(activation i). scratch, when non-nil, already holds
// the row converted to float32 (float weight types only).
func dotAct(t Type, row []byte, a *act, i int, scratch []float32) float32 {
	x := a.f[i*a.cols : (i+1)*a.cols]
	if scratch != nil {
		return dotF32(scratch, x)
	}
	switch t {
	case F32:
		if littleEndian {
			return dotF32(asF32(row), x)
		}
		w := make([]float32, len(x))
		dequantize(t, row, w)
		return dotF32(w, x)
	case F16:
		return dotF16(row, x)
	case BF16:
		return dotBF16(row, x)
	}
	k := qkernelFor(t)
	nb := a.cols / a.blk
	qs := a.qs[i*a.cols : (i+1)*a.cols]
	d := a.d[i*nb : (i+1)*nb]
	var bs []int16
	if a.blk == 32 {
		bs = a.bsums[i*nb : (i+1)*nb]
	} else {
		bs = a.bsums[i*a.cols/16 : (i+1)*a.cols/16]
	}
	return k(row, qs, d, bs)
}

// MatVecRef computes y[r] = DotRef(row r, x).
func MatVecRef(m Matrix, x, y []float32) {
	mustShape(m, x, 1, y)
	for r := 0; r < m.Rows; r++ {
		y[r] = DotRef(m.Type, m.Row(r), x)
	}
}

// MatMulRef is the reference for MatMul.
func MatMulRef(m Matrix, x []float32, n int, y []float32) {
	mustShape(m, x, n, y)
	for i := 0; i < n; i++ {
		for r := 0; r < m.Rows; r++ {
			y[i*m.Rows+r] = DotRef(m.Type, m.Row(r), x[i*m.Cols:(i+1)*m.Cols])
		}
	}
}

// rowTile is how many weight rows one work item covers: the tile's rows
// stay in L1/L2 while every activation (group) passes over them.
const rowTile = 16

// MatMul computes Y = X·Mᵀ for n activation rows: x is n×Cols row-major and
// y is n×Rows row-major. Activations are quantized once per call for
// quantized weights; each weight row is reused across all n activations;
// rows are shared among up to `threads` workers (threads ≤ 1 runs inline).
//
// Results are those of llama.cpp's matrix product (ggml_mul_mat) on x86 to
// the bit, where the Go kernels' comments say so. For Q4_K that product
// sums activations 4·⌊n/4⌋ onward one way and the groups of four before
// them another (its repacked gemm and gemv), and so does MatMul.
func MatMul(m Matrix, x []float32, n int, y []float32, threads int) {
	matMul(m, x, n, y, threads, false)
}

// MatMulEach is MatMul with every activation summed as a lone row, as
// llama.cpp's expert product (ggml_mul_mat_id) does; it differs from
// MatMul only for Q4_K.
func MatMulEach(m Matrix, x []float32, n int, y []float32, threads int) {
	matMul(m, x, n, y, threads, true)
}

func matMul(m Matrix, x []float32, n int, y []float32, threads int, each bool) {
	mustShape(m, x, n, y)
	if n == 0 || m.Rows == 0 {
		return
	}
	p := planMatMul(m, x, n, y, threads, each)
	defer p.a.release()
	var next atomic.Int64
	parallel(min(threads, p.tiles), func() {
		var w tileScratch
		for {
			t := int(next.Add(1)) - 1
			if t >= p.tiles {
				return
			}
			p.run(t, &w)
		}
	})
}

// Product is one matrix product for MatMuls and MatMulsOf: Y = X·Mᵀ.
type Product struct {
	M Matrix
	Y []float32
	// X holds the product's N activation rows (MatMulsOf; MatMuls sets
	// them). Each sums as MatMulEach does.
	X    []float32
	N    int
	Each bool
}

// MatMuls computes several products of the same n activation rows x as one
// parallel job, each exactly as MatMul would: a decode step's query, key
// and value projections are too small to be worth a hand-off each. It
// sets the products' X and N.
func MatMuls(ps []Product, x []float32, n int, threads int) {
	for i := range ps {
		ps[i].X, ps[i].N, ps[i].Each = x, n, false
	}
	MatMulsOf(ps, threads)
}

// MatMulsOf computes products with activations of their own as one
// parallel job, each exactly as MatMul (or MatMulEach) would, its rows cut
// in tiles that the threads take as they come free. A layer's experts,
// each with its own few tokens, are one such job: whole experts per
// thread leave one thread idle while another finishes the last expert,
// and a job per product costs a hand-off each.
func MatMulsOf(ps []Product, threads int) {
	work := 0
	for _, pr := range ps {
		mustShape(pr.M, pr.X, pr.N, pr.Y)
		work += pr.N * pr.M.Cols
	}
	// Planning quantizes each product's activations; for a prompt's
	// experts (a thousand rows of 2,048) that is worth sharing out too.
	plans := make([]matPlan, len(ps))
	plan := func(_, i int) {
		if pr := ps[i]; pr.N > 0 && pr.M.Rows > 0 {
			plans[i] = planMatMul(pr.M, pr.X, pr.N, pr.Y, threads, pr.Each)
		}
	}
	if threads > 1 && len(ps) > 1 && work >= parallelPlanWork {
		ParallelFor(len(ps), threads, plan)
	} else {
		for i := range ps {
			plan(0, i)
		}
	}
	total := 0
	live := plans[:0]
	for _, p := range plans {
		if p.run == nil {
			continue
		}
		defer p.a.release()
		p.first = total
		total += p.tiles
		live = append(live, p)
	}
	plans = live
	var next atomic.Int64
	parallel(min(threads, total), func() {
		var w tileScratch
		k := 0
		for {
			t := int(next.Add(1)) - 1
			if t >= total {
				return
			}
			for t >= plans[k].first+plans[k].tiles {
				k++
			}
			plans[k].run(t-plans[k].first, &w)
		}
	})
}

// parallelPlanWork is the activation count (rows × columns over all
// products) from which MatMulsOf plans its products on several threads.
const parallelPlanWork = 1 << 18

// matPlan is one MatMul cut into tiles of rows; run computes tile t.
type matPlan struct {
	a            *act
	tiles, first int
	run          func(t int, w *tileScratch)
}

// tileScratch is one goroutine's scratch across the tiles it runs, so that
// a tile allocates nothing (out escapes through the kernel func values).
type tileScratch struct {
	out [4]float32
	f   []float32
}

func planMatMul(m Matrix, x []float32, n int, y []float32, threads int, each bool) matPlan {
	a := prepareAct(m.Type, x, n, m.Cols)
	rb := m.rowBytes()
	tile := rowTile
	tiles := (m.Rows + tile - 1) / tile
	var run func(t int, w *tileScratch)
	if k := qkernelFor(m.Type); k != nil {
		// Per-activation slices are cut once, not per row.
		nb, ng := m.Cols/a.blk, m.Cols/a.blk
		if a.blk == QK_K {
			ng = m.Cols / 16
		}
		k4, kr, k4r := qkernel4For(m.Type), qkernelRowsFor(m.Type), qkernel4RowsFor(m.Type)
		kb, batchRows := batchKernelFor(m.Type), 0
		var k8r qkernel4Rows // eight activations at a time, where there is one
		if each && m.Type == Q4_K {
			k4, k4r, kb, k8r = dotQ4Kx4Each, dotQ4Kx4RowsEach, nil, dotQ4Kx8RowsEach
		}
		if kb != nil {
			batchRows = 4 * (n / 4)
		}
		// groups of eight activations, then of four, and how many they hold
		eights, groups, grouped := 0, 0, 0
		pairs := dotQ8_0Pairs
		if m.Type != Q8_0 {
			pairs = nil
		}
		switch {
		case pairs != nil:
			// Q8_0 batches: two weight rows per step against groups of
			// up to 8 activations.
			a.q8pack(n)
			grouped = n
		case k4 != nil && n >= 4 && m.Cols%packChunk(a.blk) == 0:
			if k8r != nil && k4r != nil {
				eights = n / 8
			}
			groups = (n - 8*eights) / 4
			grouped = 8*eights + 4*groups
		}
		// Two or three activations left (or in all): one pass over the
		// weights for them, in the single-row order the lone activations
		// beyond the groups take anyway.
		var tail qkernel4Rows
		tailN := 0
		if r := n - grouped; pairs == nil && (r == 2 || r == 3) && a.blk == QK_K && m.Cols%QK_K == 0 {
			if tail = tailKernelFor(m.Type, r); tail != nil {
				tailN = r
			}
		}
		if eights+groups+tailN > 0 {
			a.pack(eights, groups, tailN, m.Type == Q4_K && !each && q4kBatchPerm)
		}
		if groups == 0 {
			// Single activations gain nothing from small tiles; fewer,
			// larger ones cut the per-tile cost while leaving each thread
			// several to balance with.
			per := 8 * max(threads, 1)
			tile = max(rowTile, (m.Rows+per-1)/per)
			tiles = (m.Rows + tile - 1) / tile
		}
		run = func(t int, w *tileScratch) {
			out4 := &w.out
			r0, r1 := t*tile, min((t+1)*tile, m.Rows)
			// Activation group outside, rows inside: one group stays in
			// L1 while the tile's rows pass over it.
			for i := 0; pairs != nil && i < n; {
				size := q8GroupSize(n - i)
				off := i * nb * 68
				pairs(m.Data[r0*rb:r1*rb], rb, a.pg[off:off+size*nb*68], size, r1-r0, y[i*m.Rows+r0:(i+size)*m.Rows], m.Rows)
				i += size
			}
			for g := 0; g < eights; g++ {
				f := 8 * g // first activation of the group
				k8r(m.Data[r0*rb:r1*rb], a.pqs[f*m.Cols:(f+8)*m.Cols], a.pd[f*nb:(f+8)*nb], a.pbs[f*ng:(f+8)*ng],
					r1-r0, y[f*m.Rows+r0:(f+8)*m.Rows], m.Rows)
			}
			for g := 0; pairs == nil && g < groups; g++ {
				f := 8*eights + 4*g
				var bs []int16
				if len(a.pbs) > 0 {
					bs = a.pbs[f*ng : (f+4)*ng]
				}
				qs, d := a.pqs[f*m.Cols:(f+4)*m.Cols], a.pd[f*nb:(f+4)*nb]
				if k4r != nil {
					k4r(m.Data[r0*rb:r1*rb], qs, d, bs, r1-r0, y[f*m.Rows+r0:(f+4)*m.Rows], m.Rows)
					continue
				}
				for r := r0; r < r1; r++ {
					k4(m.Data[r*rb:(r+1)*rb], qs, d, bs, out4)
					for j, v := range out4 {
						y[(f+j)*m.Rows+r] = v
					}
				}
			}
			start := grouped
			if tail != nil {
				tail(m.Data[r0*rb:r1*rb], a.pqs[grouped*m.Cols:n*m.Cols], a.pd[grouped*nb:n*nb], a.pbs[grouped*ng:n*ng],
					r1-r0, y[grouped*m.Rows+r0:n*m.Rows], m.Rows)
				start = n
			}
			for i := start; i < n; i++ {
				qs, d, bs := a.qs[i*m.Cols:(i+1)*m.Cols], a.d[i*nb:(i+1)*nb], a.bsums[i*ng:(i+1)*ng]
				out := y[i*m.Rows+r0 : i*m.Rows+r1]
				if i < batchRows {
					for r := r0; r < r1; r++ {
						out[r-r0] = kb(m.Data[r*rb:(r+1)*rb], qs, d, bs)
					}
					continue
				}
				if kr != nil {
					kr(m.Data[r0*rb:r1*rb], a, i, out)
					continue
				}
				for r := r0; r < r1; r++ {
					out[r-r0] = k(m.Data[r*rb:(r+1)*rb], qs, d, bs)
				}
			}
		}
	} else {
		run, tiles, tile = planFloat(m, a, n, y, threads, each, tile)
	}
	return matPlan{a: a, tiles: tiles, run: run}
}

// planFloat plans a product with float weights in llama.cpp's summation
// orders: a batch (n ≥ 2, not MatMulEach) sums every output as tinyBLAS
// does (DotF32x16) where tinyBLAS takes the shape (Cols a multiple of 16,
// Rows of 4), else as ggml_vec_dot does (dotSingle). prepareAct has
// rounded F16 products' activations to F16.
func planFloat(m Matrix, a *act, n int, y []float32, threads int, each bool, tile int) (func(int, *tileScratch), int, int) {
	x, rb := a.f, m.rowBytes()
	batch := n >= 2 && !each && m.Cols%16 == 0 && m.Rows%4 == 0
	var k4 floatKernel4
	var f4r floatKernel4Rows
	var fr floatKernelRows
	if batch {
		k4, f4r = floatKernel4For(m.Type), floatKernel4RowsFor(m.Type)
	} else if m.Cols%64 == 0 && m.Cols > 0 {
		fr, f4r = floatKernelRowsFor(m.Type), floatKernel4Rows64For(m.Type)
	}
	groups := 0
	if k4 != nil || f4r != nil {
		groups = n / 4
	}
	if groups == 0 {
		// Single activations gain nothing from small tiles (see planMatMul).
		per := 8 * max(threads, 1)
		tile = max(rowTile, (m.Rows+per-1)/per)
	}
	tiles := (m.Rows + tile - 1) / tile
	run := func(t int, w *tileScratch) {
		out4 := &w.out
		r0, r1 := t*tile, min((t+1)*tile, m.Rows)
		for g := 0; g < groups; g++ {
			xg := x[4*g*m.Cols : (4*g+4)*m.Cols]
			if f4r != nil {
				f4r(m.Data[r0*rb:r1*rb], xg, r1-r0, y[4*g*m.Rows+r0:(4*g+4)*m.Rows], m.Rows)
				continue
			}
			for r := r0; r < r1; r++ {
				k4(m.Data[r*rb:(r+1)*rb], xg, m.Cols, out4)
				for j, v := range out4 {
					y[(4*g+j)*m.Rows+r] = v
				}
			}
		}
		if 4*groups == n {
			return
		}
		if fr != nil {
			for i := 4 * groups; i < n; i++ {
				fr(m.Data[r0*rb:r1*rb], x[i*m.Cols:(i+1)*m.Cols], y[i*m.Rows+r0:i*m.Rows+r1])
			}
			return
		}
		if len(w.f) < m.Cols {
			w.f = make([]float32, m.Cols)
		}
		wf := w.f[:m.Cols]
		for r := r0; r < r1; r++ {
			dequantize(m.Type, m.Data[r*rb:(r+1)*rb], wf)
			for i := 4 * groups; i < n; i++ {
				xi := x[i*m.Cols : (i+1)*m.Cols]
				if batch {
					y[i*m.Rows+r] = DotF32x16(wf, xi)
				} else {
					y[i*m.Rows+r] = dotSingle(m.Type, wf, xi)
				}
			}
		}
	}
	return run, tiles, tile
}

// dotSingle is ggml_vec_dot_f32 (for F32 weights) or ggml_vec_dot_f16
// (F16, and BF16 here, whose own kernel ggml does not mirror): DotF32x64
// over whole 64-element steps, the rest one product at a time, fused into
// the float sum for F32 and added in float64 for F16.
func dotSingle(t Type, w, x []float32) float32 {
	if t == F32 {
		return DotF32x64(w, x)
	}
	np := len(w) &^ 63
	var s float32
	if np > 0 {
		s = dotF32x64(w[:np], x[:np])
	}
	if np == len(w) {
		return s
	}
	sum := float64(s)
	for i := np; i < len(w); i++ {
		sum += float64(float32(w[i] * x[i]))
	}
	return float32(sum)
}
