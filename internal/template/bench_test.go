package template

import (
	"context"
	"testing"
)

// benchTemplate is a typical bash_command.
const benchTemplate = "python etl.py --date {{ ds }} --input {{ params.input | shquote }} --try {{ ti.try_number }}"

func BenchmarkRender(b *testing.B) {
	ctx := NewContext(testInfo())
	if _, err := Render(benchTemplate, ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(benchTemplate, ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderParallel(b *testing.B) {
	ctx := NewContext(testInfo())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Render(benchTemplate, ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRenderUncached measures the first render of a template: parsing
// plus rendering.
func BenchmarkRenderUncached(b *testing.B) {
	ctx := NewContext(testInfo())
	b.ReportAllocs()
	for b.Loop() {
		tpl, err := parse(benchTemplate)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := execute(context.Background(), tpl, ctx, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderValueNoTemplate(b *testing.B) {
	ctx := NewContext(testInfo())
	v := map[string]any{
		"bash_command": "python etl.py --date 2026-01-01",
		"env":          map[string]string{"A": "1", "B": "2"},
		"args":         []any{"--verbose", 3, true},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderValue(v, ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewContext(b *testing.B) {
	info := testInfo()
	b.ReportAllocs()
	for b.Loop() {
		NewContext(info)
	}
}
