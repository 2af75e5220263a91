package cnn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// program runs a graph's op nodes in a topological order, each on its
// children's values. It does what gorgonia's tape machine does for this
// package's graphs (no devices, no dual values, no Let or Read) without
// its allocations: the tape machine appends every op's arguments to a new
// slice and boxes the arguments of its log calls, logging or not (some
// two hundred allocations a step). Here every op has its own argument
// slice, filled anew before each call.
//
// A node without an op (a weight or an input) keeps the value bound to it
// when the program was built: the tensors are overwritten in place, never
// replaced. An op without arguments (a constant) runs once, at build time.
// The value an op returns is its node's until the next run; a program
// does not bind it to the node, so read it with value.
type program struct {
	steps []step
	// vals holds the current value of every node, by its index in the
	// graph's order.
	vals []G.Value
	// at maps a node to its index in vals.
	at map[*G.Node]int
}

// step is one op call: the op of node, on the values args are filled from.
type step struct {
	node *G.Node
	op   G.Op
	from []int     // indexes in vals of the op's arguments, in order
	args []G.Value // the arguments' slice, reused by every run
	out  int       // index in vals of the op's value
}

// compile orders g's nodes and prepares a program of their ops.
func compile(g *G.ExprGraph) (*program, error) {
	sorted, err := G.Sort(g) // dependants first
	if err != nil {
		return nil, fmt.Errorf("cnn: sort the graph: %w", err)
	}
	p := &program{vals: make([]G.Value, len(sorted)), at: make(map[*G.Node]int, len(sorted))}
	for i := range sorted {
		n := sorted[len(sorted)-1-i]
		p.at[n] = i
		children := g.From(n.ID())
		from := make([]int, 0, children.Len())
		for children.Next() {
			c, ok := children.Node().(*G.Node)
			if !ok {
				return nil, fmt.Errorf("cnn: node %v has a child of type %T", n.Name(), children.Node())
			}
			k, ok := p.at[c]
			if !ok {
				return nil, fmt.Errorf("cnn: node %v comes before its argument %v", n.Name(), c.Name())
			}
			from = append(from, k)
		}
		op := n.Op()
		switch {
		case op == nil:
			if p.vals[i] = n.Value(); p.vals[i] == nil {
				return nil, fmt.Errorf("cnn: input %v has no value", n.Name())
			}
		case len(from) == 0:
			if p.vals[i], err = op.Do(); err != nil {
				return nil, fmt.Errorf("cnn: constant %v: %w", n.Name(), err)
			}
		default:
			p.steps = append(p.steps, step{node: n, op: op, from: from, args: make([]G.Value, len(from)), out: i})
		}
	}
	return p, nil
}

// run calls every op in order. The first error stops it.
func (p *program) run() error {
	for k := range p.steps {
		s := &p.steps[k]
		for j, i := range s.from {
			s.args[j] = p.vals[i]
		}
		v, err := s.op.Do(s.args...)
		if err != nil {
			return fmt.Errorf("cnn: %v: %w", s.op, err)
		}
		p.vals[s.out] = v
	}
	return nil
}

// value returns the value of n after the last run (or, for an input, the
// value bound to it).
func (p *program) value(n *G.Node) (G.Value, error) {
	i, ok := p.at[n]
	if !ok {
		return nil, fmt.Errorf("cnn: node %v is not in the program", n.Name())
	}
	if p.vals[i] == nil {
		return nil, fmt.Errorf("cnn: node %v has no value yet (has the net run?)", n.Name())
	}
	return p.vals[i], nil
}
