package dag

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzAssetURI: any string is refused or normalised to a URI that
// normalises to itself, with a scheme, no credentials and only printable
// ASCII.
func FuzzAssetURI(f *testing.F) {
	for _, s := range []string{"s3://b/k", " S3://B/k//?b=1&a=2#f ", "x-a://Q/", "file:///", "s3://u:p@h/x",
		"a:b", "s3://[::1]:80/x", "s3://h/%2F/", "s3://h/a?%zz", "//h/p", "s3:/x", "S3://h/p;q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := NormalizeAssetURI(s)
		if err != nil {
			return
		}
		again, err := NormalizeAssetURI(u)
		if err != nil || again != u {
			t.Fatalf("NormalizeAssetURI(%q) = %q, which normalises to %q, %v", s, u, again, err)
		}
		if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.User != nil {
			t.Fatalf("NormalizeAssetURI(%q) = %q: %+v, %v", s, u, p, err)
		}
		checkAssetCondition(t, &AssetCondition{URI: u})
	})
}

// checkAssets fails unless every outlet, inlet and schedule URI of d is
// normalised.
func checkAssets(t *testing.T, d *DAG) {
	t.Helper()
	if d.AssetSchedule != nil {
		checkAssetCondition(t, d.AssetSchedule)
		if IsPeriodic(d.Schedule) || !strings.HasPrefix(d.ScheduleSpec, "assets: ") {
			t.Fatalf("asset schedule with %q", d.ScheduleSpec)
		}
	}
	for _, tk := range d.Tasks {
		for _, a := range append(append([]Asset{}, tk.Outlets...), tk.Inlets...) {
			checkAssetCondition(t, &AssetCondition{URI: a.URI})
		}
	}
}

func checkAssetCondition(t *testing.T, c *AssetCondition) {
	t.Helper()
	if c.URI != "" {
		if n, err := NormalizeAssetURI(c.URI); err != nil || n != c.URI {
			t.Fatalf("URI %q not normalised: %q, %v", c.URI, n, err)
		}
		return
	}
	if len(c.Children) == 0 {
		t.Fatalf("empty condition %s", c)
	}
	for _, ch := range c.Children {
		checkAssetCondition(t, ch)
	}
}
