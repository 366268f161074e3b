// Package pizzashack is the backend of the sample API published on first
// start: a small pizza-ordering service that apistore serves itself on
// loopback, so that a new user can subscribe and call something at once.
package pizzashack

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pizza is an item of the menu.
type Pizza struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Price       string `json:"price"`
	Icon        string `json:"icon"`
}

// Order is a placed order.
type Order struct {
	OrderID      string `json:"orderId"`
	PizzaType    string `json:"pizzaType"`
	Quantity     int    `json:"quantity"`
	CustomerName string `json:"customerName"`
	Address      string `json:"address"`
	Delivered    bool   `json:"delivered"`
	CreatedAt    string `json:"createdAt"`
}

// Menu is what the shop sells.
var Menu = []Pizza{
	{"Chicken Parmesan", "Grilled chicken, fresh tomatoes, feta and mozzarella cheese", "16.99", "/images/6.png"},
	{"Spicy Italian", "Pepperoni and a double portion of spicy Italian sausage", "14.99", "/images/1.png"},
	{"Garden Fresh", "Slices of onion and green peppers, gourmet mushrooms, black olives and ripe Roma tomatoes", "12.99", "/images/3.png"},
	{"Tuscan Six Cheese", "Six cheese blend of mozzarella, Parmesan, Romano, Asiago and Fontina", "13.99", "/images/4.png"},
	{"Pepperoni", "Classic pepperoni with mozzarella cheese", "11.99", "/images/2.png"},
}

// maxOrders bounds the orders kept in memory; the oldest go first.
const maxOrders = 10000

// Shop is the backend's state: orders placed since it started.
type Shop struct {
	mu     sync.Mutex
	next   int
	orders map[string]*Order
	queue  []string
}

// New returns an empty shop.
func New() *Shop { return &Shop{orders: map[string]*Order{}} }

// Handler serves GET /menu, POST /order and GET /order/{orderId}.
func (s *Shop) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /menu", func(w http.ResponseWriter, r *http.Request) { reply(w, http.StatusOK, Menu) })
	mux.HandleFunc("POST /order", s.placeOrder)
	mux.HandleFunc("GET /order/{orderId}", s.showOrder)
	return mux
}

func (s *Shop) placeOrder(w http.ResponseWriter, r *http.Request) {
	var o Order
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	if err := dec.Decode(&o); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON order: {\"pizzaType\":…, \"quantity\":…, \"customerName\":…, \"address\":…}"})
		return
	}
	if !slices.ContainsFunc(Menu, func(p Pizza) bool { return p.Name == o.PizzaType }) || o.Quantity < 1 || o.Quantity > 100 {
		reply(w, http.StatusBadRequest, map[string]string{"error": "pizzaType must be on the menu and quantity between 1 and 100"})
		return
	}
	s.mu.Lock()
	s.next++
	o.OrderID = strconv.Itoa(s.next)
	o.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	s.orders[o.OrderID] = &o
	s.queue = append(s.queue, o.OrderID)
	if len(s.queue) > maxOrders {
		delete(s.orders, s.queue[0])
		s.queue = s.queue[1:]
	}
	s.mu.Unlock()
	w.Header().Set("Location", strings.TrimSuffix(r.URL.Path, "/")+"/"+o.OrderID)
	reply(w, http.StatusCreated, o)
}

func (s *Shop) showOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("orderId")]
	var copied Order
	if ok {
		copied = *o
	}
	s.mu.Unlock()
	if !ok {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	reply(w, http.StatusOK, copied)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
