package ga

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestBetter(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name   string
		fa, fb float64
		ia, ib int
		want   bool
	}{
		{"lower wins", 1, 2, 2, 1, true},
		{"higher loses", 2, 1, 1, 2, false},
		{"tie by id", 1, 1, 1, 2, true},
		{"tie by id reversed", 1, 1, 2, 1, false},
		{"negative beats positive", -3, 1, 2, 1, true},
		{"finite beats NaN", 1e300, nan, 2, 1, true},
		{"NaN loses", nan, 1e300, 1, 2, false},
		{"finite beats +Inf", 5, inf, 2, 1, true},
		{"+Inf loses", inf, 5, 1, 2, false},
		{"finite beats -Inf", 5, -inf, 2, 1, true},
		{"-Inf loses", -inf, 5, 1, 2, false},
		{"most negative finite beats -Inf", -math.MaxFloat64, -inf, 2, 1, true},
		{"-Inf loses to most negative finite", -inf, -math.MaxFloat64, 1, 2, false},
		{"NaN and Inf tie by id", nan, inf, 1, 2, true},
		{"Inf and NaN tie by id", inf, nan, 2, 1, false},
		{"-Inf and +Inf tie by id", -inf, inf, 1, 2, true},
		{"+Inf and -Inf tie by id", inf, -inf, 1, 2, true},
		{"-Inf and NaN tie by id", -inf, nan, 2, 1, false},
		{"same genome is not better than itself", 1, 1, 3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Better(tt.fa, tt.ia, tt.fb, tt.ib); got != tt.want {
				t.Errorf("Better(%v#%d, %v#%d) = %v, want %v", tt.fa, tt.ia, tt.fb, tt.ib, got, tt.want)
			}
		})
	}
}

// TestCompareSorts ranks a mixed population: finite values lowest first,
// then every non-finite one (-Inf included) by id.
func TestCompareSorts(t *testing.T) {
	type g struct {
		id  int
		fit float64
	}
	pop := []g{{1, math.Inf(-1)}, {2, 3}, {3, math.NaN()}, {4, -1}, {5, math.Inf(1)}, {6, 3}, {7, -1e9}}
	slices.SortFunc(pop, func(a, b g) int { return Compare(a.fit, a.id, b.fit, b.id) })
	var got []int
	for _, p := range pop {
		got = append(got, p.id)
	}
	if want := []int{7, 4, 2, 6, 1, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("ranked ids %v, want %v", got, want)
	}
	if c := Compare(2, 4, 2, 4); c != 0 {
		t.Errorf("Compare of a genome with itself = %d, want 0", c)
	}
}

func TestJSONFloat(t *testing.T) {
	tests := []struct {
		v    float64
		json string
	}{
		{0, `0`},
		{1.5, `1.5`},
		{-2e-300, `-2e-300`},
		{math.NaN(), `"NaN"`},
		{math.Inf(1), `"+Inf"`},
		{math.Inf(-1), `"-Inf"`},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			b, err := json.Marshal(JSONFloat(tt.v))
			if err != nil || string(b) != tt.json {
				t.Fatalf("Marshal(%v) = %s, %v; want %s", tt.v, b, err, tt.json)
			}
			var back JSONFloat
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if got := float64(back); got != tt.v && !(math.IsNaN(got) && math.IsNaN(tt.v)) {
				t.Errorf("round trip of %v gave %v", tt.v, got)
			}
		})
	}
	var f JSONFloat
	if err := json.Unmarshal([]byte(`"Inf"`), &f); err != nil || !math.IsInf(float64(f), 1) {
		t.Errorf(`"Inf" read as %v, %v; want +Inf`, f, err)
	}
	for _, bad := range []string{`"inf"`, `"1.5"`, `true`, `"NaN`} {
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", bad)
		} else if !strings.HasPrefix(err.Error(), "ga: ") && bad != `"NaN` {
			t.Errorf("Unmarshal(%s): error %q lacks the ga: prefix", bad, err)
		}
	}
}
