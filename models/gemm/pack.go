package gemm

// packAPanel copies rows [ir, ir+mrb) and inner indices [pc, pc+kcb) of
// op(A) into dst as kcb groups of mr values (dst[q·mr+i] = op(A)[ir+i][pc+q]),
// with zeros for the rows past mrb.
func packAPanel(dst []float32, p *problem, mr, ir, mrb, pc, kcb int) {
	dst = dst[:kcb*mr]
	if p.aTrans {
		for q := range kcb {
			row := p.a[(pc+q)*p.lda+ir:]
			d := dst[q*mr : q*mr+mr]
			copy(d, row[:mrb])
			clear(d[mrb:])
		}
		return
	}
	for i := range mrb {
		src := p.a[(ir+i)*p.lda+pc:]
		src = src[:kcb]
		for q, v := range src {
			dst[q*mr+i] = v
		}
	}
	if mrb < mr {
		for q := range kcb {
			clear(dst[q*mr+mrb : q*mr+mr])
		}
	}
}

// packBPanel copies columns [j0, j0+nrb) and inner indices [pc, pc+kcb) of
// op(B) into dst as kcb rows of nr values (dst[q·nr+j] = op(B)[pc+q][j0+j]),
// with zeros for the columns past nrb.
func packBPanel(dst []float32, p *problem, nr, j0, nrb, pc, kcb int) {
	dst = dst[:kcb*nr]
	if !p.bTrans {
		for q := range kcb {
			d := dst[q*nr : q*nr+nr]
			copy(d, p.b[(pc+q)*p.ldb+j0:][:nrb])
			clear(d[nrb:])
		}
		return
	}
	for j := range nrb {
		src := p.b[(j0+j)*p.ldb+pc:]
		src = src[:kcb]
		for q, v := range src {
			dst[q*nr+j] = v
		}
	}
	if nrb < nr {
		for q := range kcb {
			clear(dst[q*nr+nrb : q*nr+nr])
		}
	}
}

// packBBlock packs columns [jc, jc+ncb) and inner indices [pc, pc+kcb) of
// op(B) into dst as consecutive panels of ker.nr columns, each kcb×nr.
func packBBlock(dst []float32, p *problem, ker *microKernel, jc, ncb, pc, kcb int) {
	nr := ker.nr
	if !p.bTrans {
		// Row by row, so that op(B) is read in order.
		panels := (ncb + nr - 1) / nr
		for q := range kcb {
			row := p.b[(pc+q)*p.ldb+jc:]
			row = row[:ncb]
			for jp := range panels {
				d := dst[jp*kcb*nr+q*nr:]
				d = d[:nr]
				n := copy(d, row[jp*nr:])
				clear(d[n:])
			}
		}
		return
	}
	for jr := 0; jr < ncb; jr += nr {
		nrb := min(nr, ncb-jr)
		if nrb == nr && nr%16 == 0 && ker.packB != nil {
			// Transposed full panels: 16 columns at a time in assembly.
			d := dst[jr*kcb:]
			d = d[:kcb*nr]
			for h := 0; h < nr; h += 16 {
				ker.packB(&d[h], &p.b[(jc+jr+h)*p.ldb+pc], p.ldb, kcb, nr)
			}
			continue
		}
		packBPanel(dst[jr*kcb:], p, nr, jc+jr, nrb, pc, kcb)
	}
}
