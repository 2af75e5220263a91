package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
)

// Layout of a bbolt file (go.etcd.io/bbolt internal/common, native byte
// order): a page starts with a 16-byte header (id uint64, flags uint16,
// count uint16, overflow uint32); branch and leaf elements are 16 bytes;
// the meta follows the header of pages 0 and 1.
const (
	pageHeader    = 16
	elementSize   = 16
	branchPage    = 0x01
	leafPage      = 0x02
	freelistPage  = 0x10
	bucketLeaf    = 0x01
	metaMagic     = 0xED0CDAED
	metaSize      = 64 // up to and including the checksum
	noFreelist    = ^uint64(0)
	maxTreeHeight = 64
)

var ne = binary.NativeEndian

// checkPages reads the file itself, not bbolt's mapping of it, and checks
// the page tree of its current meta page: every page lies inside the file
// and below the high-water mark, says its own id, is a branch or a leaf,
// is reached once; every element, key and value lies inside its page; the
// free pages are not in use. bbolt trusts all of this and panics, faults
// or loops where it does not hold (its own Check reads in a goroutine
// where a fault cannot be recovered).
func checkPages(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	root, freelist, hwm, psz, err := currentMeta(data)
	if err != nil {
		return err
	}
	p := &pager{data: data, psz: psz, hwm: hwm, used: map[uint64]bool{}}
	page, err := p.page(root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if err := p.node(page, root, 0, new([]byte)); err != nil {
		return err
	}
	if freelist == noFreelist {
		return nil
	}
	return p.free(freelist)
}

// currentMeta returns what the meta page bbolt would use says: the valid
// one with the higher transaction id.
func currentMeta(data []byte) (root, freelist, hwm uint64, psz int, err error) {
	type meta struct {
		root, freelist, pgid, txid uint64
		psz                        int
	}
	read := func(off int) (meta, bool) {
		if off+pageHeader+metaSize > len(data) {
			return meta{}, false
		}
		m := data[off+pageHeader:]
		h := fnv.New64a()
		h.Write(m[:metaSize-8])
		if ne.Uint32(m) != metaMagic || ne.Uint64(m[metaSize-8:]) != h.Sum64() {
			return meta{}, false
		}
		return meta{root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:]), psz: int(ne.Uint32(m[8:]))}, true
	}
	m0, ok0 := read(0)
	size := m0.psz
	if !ok0 {
		size = os.Getpagesize()
	}
	m1, ok1 := read(size)
	if ok1 && (!ok0 || m1.txid > m0.txid) {
		m0 = m1
	}
	if !ok0 && !ok1 {
		return 0, 0, 0, 0, fmt.Errorf("no valid meta page")
	}
	if m0.psz < 1024 || m0.psz > 1<<20 {
		return 0, 0, 0, 0, fmt.Errorf("page size %d", m0.psz)
	}
	return m0.root, m0.freelist, m0.pgid, m0.psz, nil
}

type pager struct {
	data []byte
	psz  int
	hwm  uint64
	used map[uint64]bool
}

// page returns page id with its overflow pages, marking them used.
func (p *pager) page(id uint64) ([]byte, error) {
	if id < 2 || id >= p.hwm {
		return nil, fmt.Errorf("page %d outside [2, %d)", id, p.hwm)
	}
	if p.used[id] {
		return nil, fmt.Errorf("page %d reached twice", id)
	}
	off := id * uint64(p.psz)
	if off+pageHeader > uint64(len(p.data)) {
		return nil, fmt.Errorf("page %d past the end of the file", id)
	}
	h := p.data[off:]
	if got := ne.Uint64(h); got != id {
		return nil, fmt.Errorf("page %d identifies as %d", id, got)
	}
	over := uint64(ne.Uint32(h[12:]))
	if id+over >= p.hwm || off+(over+1)*uint64(p.psz) > uint64(len(p.data)) {
		return nil, fmt.Errorf("page %d and its %d overflow pages pass the end", id, over)
	}
	for i := id; i <= id+over; i++ {
		if p.used[i] {
			return nil, fmt.Errorf("page %d overlaps page %d", id, i)
		}
		p.used[i] = true
	}
	return p.data[off : off+(over+1)*uint64(p.psz)], nil
}

// span returns buf[off : off+n] or an error when it is not inside buf.
func span(buf []byte, off, n uint64) ([]byte, bool) {
	if off > uint64(len(buf)) || n > uint64(len(buf))-off {
		return nil, false
	}
	return buf[off : off+n], true
}

// node checks a branch or leaf page (buf starts at its header) and what
// it leads to. prev is the last key of the bucket's leaves so far: keys
// must increase strictly.
func (p *pager) node(buf []byte, id uint64, depth int, prev *[]byte) error {
	if depth > maxTreeHeight {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeHeight)
	}
	if len(buf) < pageHeader {
		return fmt.Errorf("page %d: short header", id)
	}
	flags, count := ne.Uint16(buf[8:]), uint64(ne.Uint16(buf[10:]))
	if _, ok := span(buf, pageHeader, count*elementSize); !ok {
		return fmt.Errorf("page %d: %d elements do not fit", id, count)
	}
	var prevBranch []byte
	for i := range count {
		at := pageHeader + i*elementSize
		el := buf[at:]
		switch flags {
		case branchPage:
			pos, ksize, child := uint64(ne.Uint32(el)), uint64(ne.Uint32(el[4:])), ne.Uint64(el[8:])
			key, ok := span(buf, at+pos, ksize)
			if !ok {
				return fmt.Errorf("page %d: key %d outside the page", id, i)
			}
			if i > 0 && bytes.Compare(key, prevBranch) <= 0 {
				return fmt.Errorf("page %d: key %d out of order", id, i)
			}
			prevBranch = key
			page, err := p.page(child)
			if err != nil {
				return fmt.Errorf("page %d: child %d: %w", id, i, err)
			}
			if err := p.node(page, child, depth+1, prev); err != nil {
				return err
			}
		case leafPage:
			eflags, pos, ksize, vsize := ne.Uint32(el), uint64(ne.Uint32(el[4:])), uint64(ne.Uint32(el[8:])), uint64(ne.Uint32(el[12:]))
			v, ok := span(buf, at+pos, ksize+vsize)
			if !ok {
				return fmt.Errorf("page %d: element %d outside the page", id, i)
			}
			if key := v[:ksize]; *prev != nil && bytes.Compare(key, *prev) <= 0 {
				return fmt.Errorf("page %d: key %d out of order", id, i)
			} else {
				*prev = key
			}
			if eflags&bucketLeaf == 0 {
				continue
			}
			v = v[ksize:]
			if len(v) < 16 {
				return fmt.Errorf("page %d: bucket %d: short header", id, i)
			}
			if root := ne.Uint64(v); root != 0 {
				page, err := p.page(root)
				if err != nil {
					return fmt.Errorf("page %d: bucket %d: %w", id, i, err)
				}
				if err := p.node(page, root, depth+1, new([]byte)); err != nil {
					return err
				}
			} else if err := p.node(v[16:], id, depth+1, new([]byte)); err != nil { // an inline bucket
				return err
			}
		default:
			return fmt.Errorf("page %d: type %#x is neither branch nor leaf", id, flags)
		}
	}
	return nil
}

// free checks the freelist page: inside the file, and no free page in use.
func (p *pager) free(id uint64) error {
	page, err := p.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if f := ne.Uint16(page[8:]); f != freelistPage {
		return fmt.Errorf("freelist page %d has type %#x", id, f)
	}
	count, start := uint64(ne.Uint16(page[10:])), uint64(pageHeader)
	if count == 0xFFFF {
		if len(page) < pageHeader+8 {
			return fmt.Errorf("freelist page %d: short", id)
		}
		count, start = ne.Uint64(page[pageHeader:]), pageHeader+8
	}
	ids, ok := span(page, start, count*8)
	if !ok || count > uint64(len(page)) {
		return fmt.Errorf("freelist page %d: %d ids do not fit", id, count)
	}
	for i := range count {
		f := ne.Uint64(ids[i*8:])
		if f < 2 || f >= p.hwm {
			return fmt.Errorf("freelist: free page %d outside [2, %d)", f, p.hwm)
		}
		if p.used[f] {
			return fmt.Errorf("freelist: page %d is both free and in use", f)
		}
	}
	return nil
}
