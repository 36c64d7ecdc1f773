package wire

// Test helpers shared with the external test package wire_test.
var WritePcapForTest = writePcap
