package qthr_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

func Example_runtime() {
	var engine map[string]int // thread-affine state: only ever touched on the worker
	rt, err := qthr.New(qthr.Config{
		ThreadName: "engine",
		OnStart:    func() error { engine = map[string]int{}; return nil },
		OnStop:     func() { engine = nil },
	})
	if err != nil {
		panic(err)
	}
	defer rt.Close()

	// Synchronous and typed.
	n, _ := qthr.Do(rt, func() (int, error) { engine["a"]++; return engine["a"], nil })
	// Asynchronous, with a deadline.
	fut, _ := rt.Submit(func() (any, error) { engine["a"]++; return engine["a"], nil })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := fut.Wait(ctx)
	fmt.Println(n, v, err)
	// A panic comes back as an error.
	_, err = rt.Call(func() (any, error) { panic("oops") })
	var pe *qthr.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value)
	// Output:
	// 1 2 <nil>
	// true oops
}
