// Command cnntrain trains the paper's MNIST CNN with one genome and prints
// the metrics of every epoch: the full training of the search's final
// step, runnable on its own.
//
//	go run ./models/cnn/cmd/cnntrain -epochs 14 -lr 1.0 -gamma 0.7 -batch 64 -out w.bin
//
// It prints one line per epoch (learning rate, mean training loss, test loss
// and accuracy, duration) and a final line; logs go to stderr. -out writes
// the trained weights, which cnn.Evaluate loads; -json FILE the settings,
// every epoch's metrics and the final test figures (a cnn.Report), once the
// training has ended. -schedule trains a population based training's
// schedule (gahpo query final prints it). -train-images and
// -test-images cut the data for quick runs; -eval FILE evaluates saved
// weights on the test set without training.
//
// With -fitness it runs a fitness evaluation instead: one epoch on the
// first 54,000 training images, then the loss on the last 6,000.
package main
