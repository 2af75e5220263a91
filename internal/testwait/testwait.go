// Package testwait serves test packages whose tests spend their time
// waiting (on servers, processes, browsers and clocks) rather than
// computing: such tests, marked t.Parallel, can run more at once than the
// default of -test.parallel, GOMAXPROCS, which is two on the project's
// machine.
package testwait

import (
	"flag"
	"strconv"
)

// Parallel sets -test.parallel to n unless the command line gave it. Call
// it from TestMain, before m.Run: it parses the command line's flags.
func Parallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(n, 1)))
	}
}
