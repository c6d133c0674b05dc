package spark

import (
	"context"
	"net/http"
)

// versionProbeID is a submission id no master ever issues: asking for its
// status is a harmless request every REST server answers.
const versionProbeID = "sirocco-version-probe"

// ServerVersion returns the Spark version of the master's REST submission
// server, which a health check reports: the server names it
// (serverSparkVersion) in every answer, even "no such driver", so the
// status of a made-up submission asks for it without side effects. An
// answer without a version is an *Error.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	const op = "server version"
	resp, err := c.rest(ctx, op, http.MethodGet, "/v1/submissions/status/"+versionProbeID, nil)
	if err != nil {
		return "", err
	}
	if resp.ServerSparkVersion == "" {
		return "", &Error{Op: op, URL: c.RESTURL, StatusCode: http.StatusOK,
			Message: "the answer names no serverSparkVersion: is this Spark's REST submission server?"}
	}
	return resp.ServerSparkVersion, nil
}
