package mnist_test

import (
	"fmt"
	"log"

	"github.com/gahpo/gahpo/models/mnist"
)

func ExampleNewSplits() {
	train, test, err := mnist.Load("") // the GoMNIST files in the module cache
	if err != nil {
		log.Fatal(err)
	}
	s, err := mnist.NewSplits(train, test, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Train.N, s.Val.N, s.Test.N, "first label:", s.Train.Labels[0])
	// Output: 54000 6000 10000 first label: 5
}
