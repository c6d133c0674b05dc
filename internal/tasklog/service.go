package tasklog

import (
	"context"
	"fmt"
	"log/slog"
)

// MaskingHandler is a slog.Handler that masks Secrets in every record of
// the service log: its message, and every attribute (strings, errors, and
// any value whose printed form holds a secret), before the next handler
// writes it. A task's error or a connection's URI that reaches the service
// log is masked as it would be in the task's log.
type MaskingHandler struct {
	next    slog.Handler
	secrets *Secrets
}

// NewMaskingHandler returns a handler masking secrets, which may grow
// while it is in use, in what it passes to next.
func NewMaskingHandler(next slog.Handler, secrets *Secrets) *MaskingHandler {
	return &MaskingHandler{next: next, secrets: secrets}
}

// Enabled defers to the next handler.
func (h *MaskingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle masks r and passes it on.
func (h *MaskingHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.secrets.empty() {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, h.secrets.Mask(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.maskAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs masks attrs once, as they are bound.
func (h *MaskingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.maskAttr(a)
	}
	return &MaskingHandler{next: h.next.WithAttrs(masked), secrets: h.secrets}
}

// WithGroup defers to the next handler.
func (h *MaskingHandler) WithGroup(name string) slog.Handler {
	return &MaskingHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

func (h *MaskingHandler) maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.secrets.Mask(v.String()))
	case slog.KindGroup:
		group := v.Group()
		masked := make([]any, len(group))
		for i, g := range group {
			masked[i] = h.maskAttr(g)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		var text string
		if err, ok := v.Any().(error); ok {
			text = err.Error()
		} else {
			text = fmt.Sprint(v.Any())
		}
		if masked := h.secrets.Mask(text); masked != text {
			return slog.String(a.Key, masked)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
