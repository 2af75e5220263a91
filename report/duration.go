package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration writes a duration as the page, the dashboard and gahpo status
// show it: two significant figures below 10 s, in the unit that keeps
// them readable ("71 µs", "4.2 ms", "0.4 s", "2.7 s"), whole seconds below
// a minute ("12 s"), minutes and seconds below an hour ("3 min 12 s"),
// hours and minutes beyond ("1 h 49 min"). The dashboard's countdown of
// the ETA writes it the same way (gahpoDuration in page.html).
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	switch {
	case d == 0:
		return "0 s"
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	}
	// A value that rounds up to the next unit is written in it: 999.7 µs
	// is "1 ms", not "1000 µs".
	if us := float64(d) / float64(time.Microsecond); us < 999.5 {
		return twoFigures(us) + " µs"
	}
	if ms := float64(d) / float64(time.Millisecond); ms < 99.5 {
		return twoFigures(ms) + " ms"
	}
	if d < 9950*time.Millisecond {
		return twoFigures(d.Seconds()) + " s"
	}
	if m := d.Round(time.Minute); m >= time.Hour {
		h, min := int64(m/time.Hour), int64(m%time.Hour/time.Minute)
		if min == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, min)
	}
	s := d.Round(time.Second)
	if s < time.Minute {
		return fmt.Sprintf("%d s", int64(s/time.Second))
	}
	min, sec := int64(s/time.Minute), int64(s%time.Minute/time.Second)
	if sec == 0 {
		return fmt.Sprintf("%d min", min)
	}
	return fmt.Sprintf("%d min %d s", min, sec)
}

// twoFigures writes v (positive) to two significant figures, or to the
// unit when it has more whole digits, without an exponent and without
// trailing zeros: 0.273 → "0.27", 0.4 → "0.4", 2.0 → "2", 723 → "723".
func twoFigures(v float64) string {
	decimals := max(0, 1-int(math.Floor(math.Log10(v))))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
