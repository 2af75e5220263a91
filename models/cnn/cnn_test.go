package cnn

import (
	"sync"
	"testing"

	"github.com/gahpo/gahpo/models/mnist"
)

var mnistData = sync.OnceValues(func() ([2]*mnist.Set, error) {
	train, test, err := mnist.Load("")
	return [2]*mnist.Set{train, test}, err
})

func loadMNIST(t testing.TB) (train, test *mnist.Set) {
	t.Helper()
	d, err := mnistData()
	if err != nil {
		t.Fatalf("load MNIST: %v", err)
	}
	return d[0], d[1]
}

func loadTrain(t testing.TB) *mnist.Set {
	t.Helper()
	train, _ := loadMNIST(t)
	return train
}
