package empty_test

import (
	"context"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/empty"
)

func TestEmptySucceedsWithoutDoingAnything(t *testing.T) {
	t.Parallel()
	if empty.Factory.Spec.Name != "empty" || len(empty.Factory.Spec.Fields) != 0 {
		t.Errorf("spec = %+v, want name empty and no fields", empty.Factory.Spec)
	}
	saved := false
	task := &operator.Task{
		DagID: "d", RunID: "r", TaskID: "t", TryNumber: 1,
		SaveHandle: func(context.Context, []byte) error { saved = true; return nil },
	}
	res, err := empty.Factory.New().Execute(context.Background(), task)
	if err != nil || res.ReturnValue != nil {
		t.Errorf("Execute = %+v, %v; want no value, no error", res, err)
	}
	if saved {
		t.Error("the empty operator has no work to hand over, yet it saved a handle")
	}
	// Nothing to stop: a cancelled context changes nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (empty.Operator{}).Execute(ctx, &operator.Task{}); err != nil {
		t.Errorf("Execute with a cancelled context = %v", err)
	}
}
