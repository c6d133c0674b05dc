// Package executor runs task tries. Runner is one try end to end (claim,
// render, run, record); Local runs many of them as goroutines of this
// process up to a parallelism, heartbeating so that a crash is detected.
package executor
