// Package models holds the trainable problems that gahpo searches
// hyperparameters for, and the result types they share.
//
// Each problem lives in its own subpackage: [github.com/gahpo/gahpo/models/cnn]
// trains the paper's MNIST CNN with gorgonia, [github.com/gahpo/gahpo/models/regression]
// the small 1-D regression net, and [github.com/gahpo/gahpo/models/mnist] loads
// the MNIST IDX files. Only the models tree imports gorgonia.
package models
