package problemfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gahpo/gahpo/ga"
)

// ErrInvalid is returned (wrapped, with the file and the field) for a
// problem file that cannot be read or searched.
var ErrInvalid = errors.New("problemfile: invalid problem file")

// Goals of an objective.
const (
	Minimize = "minimize"
	Maximize = "maximize"
)

// File is a problem file as written. Its YAML (and JSON) field names are
// the file's interface; see the package documentation.
type File struct {
	Name      string    `yaml:"name" json:"name"`
	Space     []Param   `yaml:"space" json:"space"`
	Objective Objective `yaml:"objective" json:"objective"`
	Budget    *Budget   `yaml:"budget,omitempty" json:"budget,omitempty"`
	Train     Train     `yaml:"train" json:"train"`
	Data      []string  `yaml:"data,omitempty" json:"data,omitempty"`
	// FitnessBounds is the file's "fitness" field.
	FitnessBounds *Bounds `yaml:"fitness,omitempty" json:"fitness,omitempty"`
}

// Param is one parameter of the search space.
type Param struct {
	Name string `yaml:"name" json:"name"`
	// Type is float, int or choice.
	Type string `yaml:"type" json:"type"`
	// Min and Max bound a float or an int (both required); a choice has none.
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	// Scale is linear (the default) or log, for a float or an int.
	Scale string `yaml:"scale,omitempty" json:"scale,omitempty"`
	// Values are a choice's values.
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`
}

// Objective names the metric that is the fitness and its goal.
type Objective struct {
	Metric string `yaml:"metric" json:"metric"`
	// Goal is minimize (the default) or maximize.
	Goal string `yaml:"goal,omitempty" json:"goal,omitempty"`
}

// Budget is the range of epochs a genome may be trained for: a multi-
// fidelity search trains its rungs from Min up to Max.
type Budget struct {
	Min int `yaml:"min" json:"min"`
	Max int `yaml:"max" json:"max"`
}

// Train says how to run a training.
type Train struct {
	// Command is the program and its arguments; "{name}" in an argument is
	// replaced by the genome's value of parameter name. No shell runs it.
	Command []string `yaml:"command" json:"command"`
	// Dir is the working directory, relative to the file (default: the
	// file's own directory).
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// Timeout bounds one training, as a Go duration ("30m"); empty: none.
	// It bounds the longest too: a final training of budget.max epochs.
	Timeout string `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// TimeoutPerEpoch bounds a training by the epochs it trains: this
	// much for each (a rung's epochs beyond its checkpoint's, a final
	// training's all); with Timeout too, the shorter bound holds. It needs
	// a budget.
	TimeoutPerEpoch string `yaml:"timeout_per_epoch,omitempty" json:"timeout_per_epoch,omitempty"`
	// Env is added to the command's environment (names starting with
	// GAHPO_ are gahpo's own and refused).
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
}

// Bounds are optional limits on the objective's reported value: a value
// below Min or above Max fails the genome (a loss that exploded, say).
type Bounds struct {
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

// Problem is a validated problem file, ready to search and to train.
type Problem struct {
	File
	// Path is the file's absolute path.
	Path string
	// Digest is the SHA-256 of the file's bytes, in lowercase hex.
	Digest string
	// Space is the GA search space (a choice's gene is its value's index).
	Space *ga.Space
	// Dir is the command's absolute working directory.
	Dir string
	// Timeout is Train.Timeout parsed (0: none), TimeoutPerEpoch
	// Train.TimeoutPerEpoch.
	Timeout, TimeoutPerEpoch time.Duration
	// DataFiles are the absolute paths of the data files.
	DataFiles []string
}

// Load reads and validates the problem file at path.
func Load(path string) (*Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("problemfile: %w", err)
	}
	return Parse(data, path)
}

// Parse validates a problem file's bytes; path is where the file lives
// (relative paths in it are resolved from its directory).
func Parse(data []byte, path string) (*Problem, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("problemfile: %w", err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, path, fmt.Sprintf(format, a...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) > 0 {
		// Each section's shape first: the decoder's own words for a
		// string given for a list ("cannot unmarshal !!str into
		// []string") name Go's types, not the file's fields.
		if err := shape(doc.Content[0], reflect.TypeFor[File](), ""); err != nil {
			return nil, bad("%s", err)
		}
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, bad("empty file")
		}
		return nil, bad("%s", oneLine(err.Error()))
	}
	// What follows the problem would be dropped without a word: a second
	// YAML document, or what a stray brace left outside a JSON object.
	// An empty document (a trailing "---") holds nothing to drop.
	for {
		var rest yaml.Node
		err := dec.Decode(&rest)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("after the problem: %s (a problem file holds one YAML document or JSON object)", oneLine(err.Error()))
		}
		if len(rest.Content) > 0 && rest.Content[0].Tag != "!!null" {
			return nil, bad("a second document at line %d: a problem file holds one YAML document or JSON object", rest.Line)
		}
	}
	p := &Problem{File: f, Path: abs, Digest: Digest(data)}
	if err := p.validate(); err != nil {
		return nil, bad("%s", err)
	}
	return p, nil
}

// Digest returns the digest Problem.Digest would have for the file's bytes.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// sections are the types of a problem file's sections, by the name the
// YAML decoder gives them in an error.
var sections = map[string]reflect.Type{
	"problemfile.File": reflect.TypeFor[File](), "problemfile.Param": reflect.TypeFor[Param](),
	"problemfile.Objective": reflect.TypeFor[Objective](), "problemfile.Budget": reflect.TypeFor[Budget](),
	"problemfile.Train": reflect.TypeFor[Train](), "problemfile.Bounds": reflect.TypeFor[Bounds](),
}

var unknownKeyRE = regexp.MustCompile(`field (\S+) not found in type (\S+)`)

// unknownKey rewrites the decoder's "field x not found in type
// problemfile.T" as the key a user wrote and the keys that section knows.
func unknownKey(s string) string {
	return unknownKeyRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := unknownKeyRE.FindStringSubmatch(m)
		t, ok := sections[sub[2]]
		if !ok {
			return fmt.Sprintf("unknown key %q", sub[1])
		}
		var keys []string
		for f := range t.Fields() {
			if k, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); k != "" {
				keys = append(keys, k)
			}
		}
		return fmt.Sprintf("unknown key %q (known here: %s)", sub[1], strings.Join(keys, ", "))
	})
}

// oneLine joins a multi-line YAML error into one line, its unknown keys
// said as keys.
func oneLine(s string) string {
	s = unknownKey(strings.TrimPrefix(s, "yaml: unmarshal errors:\n"))
	var parts []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// examples show the shape a section wants, by its path in the file.
var examples = map[string]string{
	"space":          "a list of parameters, one a line: - {name: lr, type: float, min: 1.0e-5, max: 1, scale: log}",
	"space[]":        "a parameter: {name: lr, type: float, min: 1.0e-5, max: 1, scale: log}",
	"space[].values": "a list of a choice's values: [sgd, adam]",
	"objective":      "a mapping: {metric: val_loss, goal: minimize}",
	"budget":         "a mapping of epochs: {min: 1, max: 14}",
	"train":          "a mapping: {command: [python3, train.py], timeout: 30m}",
	"train.command":  `a list of the program and its arguments: [python3, train.py, --lr, "{lr}"] (no shell splits a string)`,
	"train.env":      `a mapping of variables: {PYTHONUNBUFFERED: "1"}`,
	"data":           "a list of files: [data/train.csv]",
	"fitness":        "a mapping: {min: 0, max: 100}",
}

// shape checks that node has the shape of a value of type t at path (a
// mapping for a struct or a map, a list for a slice, a value of the
// right kind for a number), so that a section given in another shape is
// refused in the file's terms. Keys the type does not know are left to
// the decoder, which names them.
func shape(node *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.AliasNode || node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		// An alias is left to the decoder (followed here, a file of
		// aliases of aliases would take long to walk); null is the
		// field's zero value: missing, said by validate.
		return nil
	}
	var want string
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if node.Kind != yaml.MappingNode {
			want = "a mapping (key: value, or {key: value, ...})"
			break
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, val := node.Content[i].Value, node.Content[i+1]
			sub := join(path, key)
			if t.Kind() == reflect.Map {
				if err := shape(val, t.Elem(), sub); err != nil {
					return err
				}
				continue
			}
			for f := range t.Fields() {
				if k, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); k == key {
					if err := shape(val, f.Type, sub); err != nil {
						return err
					}
				}
			}
		}
		return nil
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			want = "a list ([a, b], or one \"- item\" a line)"
			break
		}
		for i, el := range node.Content {
			if err := shape(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Int, reflect.Float64:
		switch {
		case node.Kind != yaml.ScalarNode:
			want = "a number"
		case node.Tag == "!!int", node.Tag == "!!float" && t.Kind() == reflect.Float64:
			return nil
		case t.Kind() == reflect.Int:
			want = "a whole number"
		default:
			want = "a number"
		}
		if node.Kind == yaml.ScalarNode && node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			want += ", without quotes"
		}
	default:
		if node.Kind == yaml.ScalarNode {
			return nil
		}
		want = "a single value"
	}
	if ex, ok := examples[generic(path)]; ok {
		want = ex
	}
	return fmt.Errorf("line %d: %s: %s, want %s", node.Line, path, describe(node), want)
}

// join adds key to a path of the file's fields.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

// generic is path without its list indices (space[2].values:
// space[].values).
func generic(path string) string { return indexRE.ReplaceAllString(path, "[]") }

// describe says what a node is, for an error.
func describe(node *yaml.Node) string {
	switch node.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		v := node.Value
		if len(v) > 40 {
			v = strings.ToValidUTF8(v[:40], "") + "…"
		}
		return strconv.Quote(v)
	}
	return "a YAML node of another kind"
}

var (
	nameRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	paramRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	envRE         = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// validate checks the file in reading order and returns the first fault.
func (p *Problem) validate() error {
	f := &p.File
	switch {
	case f.Name == "":
		return errors.New("name: missing")
	case len(f.Name) > 64 || !nameRE.MatchString(f.Name):
		return fmt.Errorf("name: %q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", f.Name)
	case len(f.Space) == 0:
		return errors.New("space: no parameters")
	}
	params := make([]ga.Param, len(f.Space))
	seen := map[string]int{}
	for i, sp := range f.Space {
		gp, err := sp.param()
		if err != nil {
			return fmt.Errorf("space[%d]%s: %w", i, quoted(sp.Name), err)
		}
		if j, dup := seen[sp.Name]; dup {
			return fmt.Errorf("space[%d]: duplicate name %q (also space[%d])", i, sp.Name, j)
		}
		seen[sp.Name] = i
		params[i] = gp
	}
	space, err := ga.NewSpace(params...)
	if err != nil {
		return fmt.Errorf("space: %w", err)
	}
	p.Space = space

	switch {
	case f.Objective.Metric == "":
		return errors.New("objective.metric: missing")
	case f.Objective.Metric == "epoch":
		return errors.New(`objective.metric: "epoch" is a report's epoch number, not a metric`)
	case f.Objective.Goal == "":
		f.Objective.Goal = Minimize
	case f.Objective.Goal != Minimize && f.Objective.Goal != Maximize:
		return fmt.Errorf("objective.goal: %q, want minimize or maximize", f.Objective.Goal)
	}
	if b := f.Budget; b != nil {
		switch {
		case b.Min == 0:
			return errors.New("budget.min: missing or 0 (the epochs of the first rung: at least 1)")
		case b.Min < 1:
			return fmt.Errorf("budget.min: %d, want at least 1 epoch", b.Min)
		case b.Max < b.Min:
			return fmt.Errorf("budget.max: %d is below budget.min %d", b.Max, b.Min)
		}
	}
	if err := p.validateTrain(seen); err != nil {
		return err
	}
	base := filepath.Dir(p.Path)
	names := map[string]int{}
	for i, d := range f.Data {
		if d == "" {
			return fmt.Errorf("data[%d]: empty path", i)
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(base, d)
		}
		b := filepath.Base(d)
		if j, dup := names[b]; dup {
			return fmt.Errorf("data[%d]: file name %q already in data[%d] (workers get the files side by side, by name)", i, b, j)
		}
		names[b] = i
		p.DataFiles = append(p.DataFiles, d)
	}
	if b := f.FitnessBounds; b != nil {
		for name, v := range map[string]*float64{"min": b.Min, "max": b.Max} {
			if v != nil && math.IsNaN(*v) {
				return fmt.Errorf("fitness.%s: NaN", name)
			}
		}
		if b.Min != nil && b.Max != nil && *b.Min > *b.Max {
			return fmt.Errorf("fitness: min %g > max %g", *b.Min, *b.Max)
		}
	}
	return nil
}

func (p *Problem) validateTrain(params map[string]int) error {
	t := &p.Train
	if len(t.Command) == 0 || t.Command[0] == "" {
		return errors.New("train.command: missing (the program to run and its arguments)")
	}
	for i, arg := range t.Command {
		for _, m := range placeholderRE.FindAllStringSubmatch(arg, -1) {
			if _, ok := params[m[1]]; !ok {
				return fmt.Errorf("train.command[%d]: placeholder {%s} names no parameter of the space", i, m[1])
			}
		}
	}
	dir := t.Dir
	if dir == "" {
		dir = "."
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(p.Path), dir)
	}
	p.Dir = dir
	if t.Timeout != "" {
		d, err := time.ParseDuration(t.Timeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("train.timeout: %q, want a positive duration such as 30m or 90s", t.Timeout)
		}
		p.Timeout = d
	}
	if t.TimeoutPerEpoch != "" {
		d, err := time.ParseDuration(t.TimeoutPerEpoch)
		switch {
		case err != nil || d <= 0:
			return fmt.Errorf("train.timeout_per_epoch: %q, want a positive duration such as 10m or 90s", t.TimeoutPerEpoch)
		case p.Budget == nil:
			return errors.New("train.timeout_per_epoch: needs a budget (without one the command decides its epochs): give budget, or train.timeout")
		}
		p.TimeoutPerEpoch = d
	}
	for k := range t.Env {
		switch {
		case !envRE.MatchString(k):
			return fmt.Errorf("train.env: %q is not a variable name", k)
		case strings.HasPrefix(k, "GAHPO_"):
			return fmt.Errorf("train.env: %s: names starting with GAHPO_ are set by gahpo", k)
		}
	}
	return nil
}

func quoted(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" %q", name)
}

// param converts a file parameter to a ga parameter, naming the faulty
// field.
func (sp Param) param() (ga.Param, error) {
	if sp.Name == "" {
		return ga.Param{}, errors.New("name: missing")
	}
	if !paramRE.MatchString(sp.Name) {
		return ga.Param{}, fmt.Errorf("name: %q must be letters, digits and '_', not starting with a digit", sp.Name)
	}
	switch sp.Type {
	case "choice":
		switch {
		case sp.Min != nil || sp.Max != nil:
			return ga.Param{}, errors.New("min, max: a choice has values, not bounds")
		case sp.Scale != "":
			return ga.Param{}, errors.New("scale: a choice has no scale")
		case len(sp.Values) == 0:
			return ga.Param{}, errors.New("values: a choice needs at least one value")
		}
		seen := map[string]bool{}
		for i, v := range sp.Values {
			if seen[v] {
				return ga.Param{}, fmt.Errorf("values[%d]: duplicate value %q", i, v)
			}
			if strings.ContainsAny(v, ",;=") || strings.TrimSpace(v) != v || v == "" {
				// --enqueue and a schedule (1:opt=adam,lr=0.1;3:...) name it.
				return ga.Param{}, fmt.Errorf("values[%d]: %q: a choice's value may not be empty, hold ',', ';' or '=', or start or end with a space", i, v)
			}
			seen[v] = true
		}
		return ga.ChoiceParam(sp.Name, sp.Values...), nil
	case "float", "int":
	case "":
		return ga.Param{}, errors.New("type: missing (float, int or choice)")
	default:
		return ga.Param{}, fmt.Errorf("type: unknown type %q (want float, int or choice)", sp.Type)
	}
	if len(sp.Values) > 0 {
		return ga.Param{}, fmt.Errorf("values: only a choice has values, not a %s", sp.Type)
	}
	switch {
	case sp.Min == nil:
		return ga.Param{}, errors.New("min: missing")
	case sp.Max == nil:
		return ga.Param{}, errors.New("max: missing")
	}
	lo, hi := *sp.Min, *sp.Max
	switch {
	case math.IsNaN(lo) || math.IsInf(lo, 0):
		return ga.Param{}, fmt.Errorf("min: %g is not a finite number", lo)
	case math.IsNaN(hi) || math.IsInf(hi, 0):
		return ga.Param{}, fmt.Errorf("max: %g is not a finite number", hi)
	case lo > hi:
		return ga.Param{}, fmt.Errorf("min %g > max %g", lo, hi)
	}
	var scale ga.Scale
	switch sp.Scale {
	case "", "linear":
		scale = ga.Linear
	case "log":
		scale = ga.Log
		if lo <= 0 {
			return ga.Param{}, fmt.Errorf("min: log scale needs min > 0, got %g", lo)
		}
	default:
		return ga.Param{}, fmt.Errorf("scale: unknown scale %q (want linear or log)", sp.Scale)
	}
	if sp.Type == "int" {
		if lo != math.Trunc(lo) || hi != math.Trunc(hi) {
			return ga.Param{}, fmt.Errorf("min, max: an int's bounds must be integers, got [%g, %g]", lo, hi)
		}
		if math.Abs(lo) > 1<<53 || math.Abs(hi) > 1<<53 {
			return ga.Param{}, fmt.Errorf("min, max: an int's bounds [%g, %g] exceed ±2^53", lo, hi)
		}
		gp := ga.IntParam(sp.Name, int(lo), int(hi))
		gp.Scale = scale
		if err := gp.Validate(); err != nil {
			return ga.Param{}, err
		}
		return gp, nil
	}
	gp := ga.FloatParam(sp.Name, lo, hi, scale)
	if err := gp.Validate(); err != nil {
		return ga.Param{}, err
	}
	return gp, nil
}

// Fitness returns the fitness of an objective value (negated for a goal to
// maximise), or +Inf and the reason the value fails the genome: NaN,
// infinite, or outside the file's fitness bounds.
func (p *Problem) Fitness(objective float64) (fitness float64, reason string) {
	b := p.FitnessBounds
	switch {
	case math.IsNaN(objective) || math.IsInf(objective, 0):
		return math.Inf(1), fmt.Sprintf("objective %s is %g", p.Objective.Metric, objective)
	case b != nil && b.Min != nil && objective < *b.Min:
		return math.Inf(1), fmt.Sprintf("objective %s %g is below fitness.min %g", p.Objective.Metric, objective, *b.Min)
	case b != nil && b.Max != nil && objective > *b.Max:
		return math.Inf(1), fmt.Sprintf("objective %s %g is above fitness.max %g", p.Objective.Metric, objective, *b.Max)
	}
	if p.Objective.Goal == Maximize {
		return -objective, ""
	}
	return objective, ""
}
