// Package notify renders and delivers callbacks' notifiers: a local
// command, a JSON webhook, an e-mail through an smtp connection (Airflow
// 3's BaseNotifier and its Slack, SMTP and shell kin).
//
// It knows nothing of when a notification is due nor of retries: the
// scheduler's outbox (scheduler/notifications.go) records each due
// notification in the store with the state change that causes it, claims
// it, calls Sender.Send once per attempt and records the outcome:
//
//	state change seen ──► store: notification pending (key: task, try, event, notifier)
//	                                │ claim (conditional write, lease)
//	                                ▼
//	                           sending ──Send ok──► sent
//	                                │ └─Send failed─► pending (backoff) … ► failed (attempts spent)
//	                                └─ worker died: lease ends ─► claimed again
//
// Secrets never leave in clear: connection passwords and tokens are added
// to a mask (tasklog.Secrets) before use, and every output and error Send
// returns is masked with it.
package notify
