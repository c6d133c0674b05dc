package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// assetsCmd is `sirocco assets`: data-aware scheduling's assets, their
// producers, consumers and events (Airflow's `airflow assets`).
func (a *app) assetsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "assets", Short: "Assets (data-aware scheduling): who produces and consumes them, and their events"}
	cmd.AddCommand(a.assetsListCmd(), a.assetsEventsCmd(), a.assetsEventCmd())
	return cmd
}

func (a *app) assetsListCmd() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List assets with their producing tasks, consuming DAGs and last event", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			list, err := actions.ListAssets(cmd.Context(), e.st, e.bag.DAGs())
			if err != nil {
				return err
			}
			t := &table{headers: []string{"uri", "producers", "consumers", "events", "last_event"}}
			for _, as := range list {
				t.add(map[string]any{"uri": as.URI, "producers": strings.Join(as.Producers, ","),
					"consumers": strings.Join(as.Consumers, ","), "readers": strings.Join(as.Readers, ","),
					"events": as.Events, "last_event": timeOrEmpty(as.LastEventAt)})
			}
			return a.print(t)
		},
	}
}

func (a *app) assetsEventsCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use: "events [URI]", Short: "List asset events, newest first", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := store.AssetEventFilter{Limit: limit}
			if len(args) == 1 {
				uri, err := dag.NormalizeAssetURI(args[0])
				if err != nil {
					return err
				}
				f.URI = uri
			}
			if limit < 0 {
				return fmt.Errorf("--limit must not be negative, got %d", limit)
			}
			return a.withStore(cmd, func(st store.Store) error {
				evs, err := st.ListAssetEvents(cmd.Context(), f)
				if err != nil {
					return err
				}
				t := &table{headers: []string{"id", "uri", "timestamp", "source", "extra"}}
				for _, ev := range evs {
					t.add(assetEventRecord(ev))
				}
				return a.print(t)
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "show at most this many events (0: all)")
	return cmd
}

// assetEventRecord is an event as a table row and a JSON record.
func assetEventRecord(ev store.AssetEvent) map[string]any {
	source := "manual"
	if ev.SourceTaskID != "" {
		source = fmt.Sprintf("%s/%s/%s (try %d)", ev.SourceDagID, ev.SourceRunID, ev.SourceTaskID, ev.SourceTry)
	}
	extra := "{}"
	if len(ev.Extra) > 0 {
		b, _ := json.Marshal(ev.Extra)
		extra = string(b)
	}
	return map[string]any{"id": ev.ID, "uri": ev.URI, "timestamp": ev.Timestamp.Format(time.RFC3339Nano),
		"source": source, "source_dag_id": ev.SourceDagID, "source_run_id": ev.SourceRunID,
		"source_task_id": ev.SourceTaskID, "source_try": ev.SourceTry, "extra": extra}
}

func (a *app) assetsEventCmd() *cobra.Command {
	var extra string
	cmd := &cobra.Command{
		Use: "event URI", Short: "Record an asset event by hand: the DAGs scheduled on the asset see it as an update", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var m map[string]any
			if extra != "" {
				if err := json.Unmarshal([]byte(extra), &m); err != nil || m == nil {
					return fmt.Errorf("--extra must be a JSON object: %q", extra)
				}
			}
			e, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			ev, err := actions.CreateAssetEvent(cmd.Context(), e.st, e.bag.DAGs(), args[0], m, time.Now().UTC())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Asset event %d recorded for %s\n", ev.ID, ev.URI)
			return nil
		},
	}
	cmd.Flags().StringVar(&extra, "extra", "", "the event's extra, a JSON object")
	return cmd
}

// timeOrEmpty formats t, the zero time as "".
func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
