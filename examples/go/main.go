// Command example: goroutines writing into one SQLite connection through qthr.
//
// The connection is opened without SQLite's mutexes (SQLITE_OPEN_NOMUTEX) on
// qthr's worker thread, in OnStart, and closed there in OnStop; every
// statement runs on that thread, whichever goroutine asked for it. The
// connection checks the thread on every use and panics if the rule is broken.
//
//	go run . -goroutines 8 -rows 2000 -db /tmp/events.db
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"sync"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

func main() {
	goroutines := flag.Int("goroutines", 8, "goroutines writing at once")
	rows := flag.Int("rows", 1000, "rows each goroutine inserts")
	path := flag.String("db", ":memory:", "SQLite database file")
	flag.Parse()

	var db *conn // touched only on the worker
	rt, err := qthr.New(qthr.Config{
		ThreadName:    "sqlite",
		QueueCapacity: 1024,
		OnStart: func() (err error) {
			if db, err = openConn(*path); err != nil {
				return err
			}
			return db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
				CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, worker INT, seq INT, msg TEXT)`)
		},
		OnStop: func() {
			if err := db.close(); err != nil {
				log.Print(err)
			}
		},
	})
	if err != nil {
		log.Fatalf("start: %v", err)
	}
	defer rt.Close()

	before, err := qthr.Do(rt, func() (int64, error) { return db.queryInt("SELECT count(*) FROM events") })
	if err != nil {
		log.Fatal(err)
	}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *goroutines)
	for w := 0; w < *goroutines; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < *rows; i++ {
				msg := fmt.Sprintf("event %d from goroutine %d", i, w)
				// Synchronous: the typed result comes straight back.
				if _, err := qthr.Do(rt, func() (int64, error) { return db.insert(w, i, msg) }); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	// Meanwhile an asynchronous query, waited for with a deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fut, err := rt.Submit(func() (any, error) { return db.queryInt("SELECT count(*) FROM events") })
	if err != nil {
		log.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		log.Fatal(err)
	}
	elapsed := time.Since(start)
	seen, err := fut.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}

	total, err := qthr.Do(rt, func() (int64, error) { return db.queryInt("SELECT count(*) FROM events") })
	if err != nil {
		log.Fatal(err)
	}
	want := before + int64(*goroutines**rows)
	st := rt.Stats()
	fmt.Printf("inserted %d rows from %d goroutines in %v (%.0f inserts/s); rows when an async query ran mid-way: %v\n",
		total-before, *goroutines, elapsed.Round(time.Millisecond),
		float64(*goroutines**rows)/elapsed.Seconds(), seen)
	fmt.Printf("jobs: %d submitted, %d completed, queue high water %d\n", st.Submitted, st.Completed, st.QueueHighWater)
	if total != want {
		log.Fatalf("rows: %d, want %d", total, want)
	}
	if err := rt.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok")
}
