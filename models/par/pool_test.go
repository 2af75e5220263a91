package par

import (
	"runtime"
	"testing"
)

// TestPoolKeepsAcrossCollections: what is put is got again, also after
// garbage collections (which empty a sync.Pool), up to the capacity; past
// it, new objects are made.
func TestPoolKeepsAcrossCollections(t *testing.T) {
	made := 0
	p := NewPool(2, func() *int { made++; return new(int) })
	a, b, c := p.Get(), p.Get(), p.Get()
	if made != 3 {
		t.Fatalf("%d made for 3 gets of an empty pool, want 3", made)
	}
	p.Put(a)
	p.Put(b)
	p.Put(c) // beyond the capacity: dropped
	runtime.GC()
	runtime.GC()
	got := map[*int]bool{p.Get(): true, p.Get(): true}
	if !got[a] || !got[b] {
		t.Errorf("after two collections the pool gave %v, want a and b back", got)
	}
	if made != 3 {
		t.Errorf("%d made, want still 3", made)
	}
	if p.Get() == c || made != 4 {
		t.Errorf("the object put beyond the capacity came back, or none was made (%d made)", made)
	}
}
