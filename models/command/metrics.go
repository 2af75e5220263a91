package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
)

// bareRE finds Python's non-JSON NaN, Infinity and -Infinity values.
var bareRE = regexp.MustCompile(`([:\[,]\s*)(NaN|-?Infinity)(\s*[,}\]])`)

// parseMetrics reads a metrics line: a JSON object whose numeric fields
// are metrics, "epoch" among them. ok is false for any other line.
func parseMetrics(line []byte) (epoch int, metrics map[string]float64, ok bool) {
	line = bytes.TrimSpace(line)
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return 0, nil, false
	}
	if bytes.Contains(line, []byte("NaN")) || bytes.Contains(line, []byte("Infinity")) {
		// Twice: a match consumes the separator the next one starts with.
		line = bareRE.ReplaceAll(line, []byte(`$1"$2"$3`))
		line = bareRE.ReplaceAll(line, []byte(`$1"$2"$3`))
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return 0, nil, false
	}
	metrics = make(map[string]float64, len(raw))
	epoch = -1
	for k, v := range raw {
		var x float64
		switch v := v.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(v.String(), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				continue
			}
			// Out of float64's range: ±Inf (or 0 for a tiny number), as
			// the value it stands for; a diverged loss fails as one.
			x = f
		case string:
			switch v {
			case "NaN":
				x = math.NaN()
			case "Infinity":
				x = math.Inf(1)
			case "-Infinity":
				x = math.Inf(-1)
			default:
				continue
			}
		default:
			continue
		}
		if k == "epoch" {
			if x >= 0 && x == math.Trunc(x) && x < 1<<31 {
				epoch = int(x)
			}
			continue
		}
		metrics[k] = x
	}
	if len(metrics) == 0 {
		return 0, nil, false
	}
	return epoch, metrics, true
}

// oddValue returns, as printed, the value of field name in line when line
// is a JSON object that holds it as something other than a number (a
// string "0.5", null, a list), "" otherwise: the objective a command meant
// to report, which a failure for want of it should quote.
func oddValue(line []byte, name string) string {
	line = bytes.TrimSpace(line)
	if len(line) < 2 || line[0] != '{' || !bytes.Contains(line, []byte(name)) {
		return ""
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(line, &raw) != nil {
		return ""
	}
	v, ok := raw[name]
	if !ok {
		return ""
	}
	if string(bytes.TrimSpace(v)) == "null" {
		return "null" // decodes into a float64 as nothing at all
	}
	var f float64
	if json.Unmarshal(v, &f) == nil {
		return "" // a number after all (parseMetrics took it, or it was out of range)
	}
	const most = 40
	if len(v) > most {
		return string(v[:most]) + "…"
	}
	return string(v)
}
