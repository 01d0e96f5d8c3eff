/*
 * list.h — intrusive doubly-linked lists (as PgBouncer's and the kernel's).
 *
 * An object that can sit on a list embeds a `struct list`; a list head is a
 * `struct list` too. An unlinked node points at itself, so list_del() is
 * safe to call twice. container_of() gets the object back.
 */
#ifndef SWITCHYARD_LIST_H
#define SWITCHYARD_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
	struct list *next, *prev;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void list_init(struct list *l) { l->next = l->prev = l; }
static inline bool list_empty(const struct list *l) { return l->next == l; }

static inline void list_add_tail(struct list *head, struct list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

static inline struct list *list_first(const struct list *head)
{
	return list_empty(head) ? NULL : head->next;
}

static inline struct list *list_pop(struct list *head)
{
	struct list *n = list_first(head);
	if (n)
		list_del(n);
	return n;
}

#endif
