package bench

// platformSteps are the scenarios that need Linux namespaces.
func platformSteps() []step {
	return nil
}
