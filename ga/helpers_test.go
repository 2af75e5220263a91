package ga

// paperSpace is the CNN's space of the paper (models/problems registers it
// as the cnn problem's): four genes of every kind of numeric parameter, the
// space the engine's tests search.
func paperSpace() *Space {
	s, err := NewSpace(
		IntParam("batch_size", 10, 128),
		FloatParam("lr", 1e-8, 1.0, Log),
		FloatParam("gamma", 0, 1.0, Linear),
		FloatParam("weight_decay", 1e-7, 1e-4, Log),
	)
	if err != nil {
		panic(err) // the literal above is valid
	}
	return s
}
