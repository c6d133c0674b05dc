// Package airflowimport converts Airflow Python DAG files to Sirocco YAML
// (`sirocco dags import-airflow`).
//
// It does not parse Python. It runs the files in a child python3 against a
// small stand-in for Airflow's authoring API (the shim/ folder, embedded and
// written to a temporary folder for the run), so that loops, helper
// functions and default_args work because the file really runs:
//
//	DAG files --python3 + shim--> JSON lines (ir.go) --convert.go + operators.go--> YAML
//	                                                                           \-> <dag>_callables.py
//
// Each written YAML is loaded with the real loader (internal/dag); what
// could not be converted is reported with the FILE:LINE of the Python call
// that made it, and written as a comment block at the top of the YAML.
package airflowimport
