package dbtest

import (
	"context"
	"errors"
	"testing"

	"github.com/apistore/apistore/db"
)

func testRunAlone(t *testing.T, s *suite) {
	t.Run("a job runs and its error is returned", func(t *testing.T) {
		d := s.store(t)
		failed := errors.New("the job failed")
		ran := 0
		for _, want := range []error{nil, failed} {
			ok, err := d.RunAlone(t.Context(), "cleanup", func(context.Context) error { ran++; return want })
			if !ok || !errors.Is(err, want) || (want == nil && err != nil) {
				t.Errorf("RunAlone: ran %v, %v; want true, %v", ok, err, want)
			}
		}
		if ran != 2 {
			t.Errorf("the job ran %d times, want 2: it runs again once finished", ran)
		}
	})

	t.Run("while a job runs, the same job does not start on this or another node", func(t *testing.T) {
		s.bug(t, BugRunAloneInProcess)
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		running, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			ok, err := d.RunAlone(ctx, "cleanup", func(context.Context) error {
				close(running)
				<-release
				return nil
			})
			if err == nil && !ok {
				err = errors.New("the first RunAlone did not run its job")
			}
			done <- err
		}()
		<-running
		for i, h := range []db.Store{d, other} {
			ok, err := h.RunAlone(ctx, "cleanup", func(context.Context) error {
				t.Errorf("handle %d ran the job while it was running", i)
				return nil
			})
			if ok || err != nil {
				t.Errorf("handle %d, the same job: ran %v, %v; want false, nil", i, ok, err)
			}
		}
		ranOther := false
		if ok, err := other.RunAlone(ctx, "prune usage", func(context.Context) error { ranOther = true; return nil }); !ok || err != nil || !ranOther {
			t.Errorf("another job on the other node: ran %v (%v), %v; want it run", ok, ranOther, err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ran := false
		if ok, err := other.RunAlone(ctx, "cleanup", func(context.Context) error { ran = true; return nil }); !ok || err != nil || !ran {
			t.Errorf("the job on the other node once it ended: ran %v (%v), %v", ok, ran, err)
		}
	})
}
