// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp_json.c - QMP messages in QEMU's text form.
 *
 * json-c's own writer has no mode that matches QEMU byte for byte (its
 * "spaced" mode pads braces, its plain mode has no spaces and escapes '/'),
 * and tools that compare or split QMP output expect QEMU's bytes, so the
 * writer is here: a walk over the object that json-c parsed or we built.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "qmp_json.h"

json_object *qmp_error_new(const char *cls, const char *desc)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	return o;
}

json_object *qmp_reply_new(json_object *ret, const char *cls,
			   const char *desc, json_object *req)
{
	json_object *o = json_object_new_object(), *id = NULL, *e;
	bool has_id = json_object_is_type(req, json_type_object) &&
		      json_object_object_get_ex(req, "id", &id);

	if (cls) {
		json_object_put(ret);
		e = qmp_error_new(cls, desc);
		if (!has_id) {
			json_object_put(o);
			return e;
		}
		json_object_object_add(o, "id", json_object_get(id));
		json_object_object_get_ex(e, "error", &ret);
		json_object_object_add(o, "error", json_object_get(ret));
		json_object_put(e);
		return o;
	}
	json_object_object_add(o, "return", ret ? ret : json_object_new_object());
	if (has_id)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

/* Length of the UTF-8 sequence at s (at most len bytes) and its code
 * point; 0 when it is not well-formed. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, i;
	uint32_t c = s[0];

	if (c < 0x80)
		n = 1;
	else if ((c & 0xe0) == 0xc0)
		n = 2, c &= 0x1f;
	else if ((c & 0xf0) == 0xe0)
		n = 3, c &= 0x0f;
	else if ((c & 0xf8) == 0xf0)
		n = 4, c &= 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

bool qmp_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	while (len) {
		n = utf8_decode(p, len, &cp);
		if (!n)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* The two-character escape of cp, or 0 when it has none. */
static char short_escape(uint32_t cp)
{
	switch (cp) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	default:
		return 0;
	}
}

/* As QEMU: printable ASCII as is, the rest as \uXXXX (surrogate pairs above
 * the BMP), so a reply is ASCII whatever the client sent. */
static void put_string(struct printbuf *pb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;
	char c;

	printbuf_memappend(pb, "\"", 1);
	for (; len; p += n, len -= n) {
		n = utf8_decode(p, len, &cp);
		if (!n) {		/* never from our input: it is checked */
			cp = 0xfffd;
			n = 1;
		}
		c = short_escape(cp);
		if (c)
			sprintbuf(pb, "\\%c", c);
		else if (cp >= 0x20 && cp < 0x7f)
			sprintbuf(pb, "%c", (char)cp);
		else if (cp > 0xffff)
			sprintbuf(pb, "\\u%04X\\u%04X",
				  0xd800 + ((cp - 0x10000) >> 10),
				  0xdc00 + ((cp - 0x10000) & 0x3ff));
		else
			sprintbuf(pb, "\\u%04X", cp);
	}
	printbuf_memappend(pb, "\"", 1);
}

static void put_value(struct printbuf *pb, json_object *o)
{
	const char *sep = "";
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_object:
		printbuf_memappend(pb, "{", 1);
		json_object_object_foreach(o, key, val) {
			printbuf_memappend(pb, sep, strlen(sep));
			put_string(pb, key, strlen(key));
			printbuf_memappend(pb, ": ", 2);
			put_value(pb, val);
			sep = ", ";
		}
		printbuf_memappend(pb, "}", 1);
		break;
	case json_type_array:
		printbuf_memappend(pb, "[", 1);
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			printbuf_memappend(pb, sep, strlen(sep));
			put_value(pb, json_object_array_get_idx(o, i));
			sep = ", ";
		}
		printbuf_memappend(pb, "]", 1);
		break;
	case json_type_string:
		put_string(pb, json_object_get_string(o), json_object_get_string_len(o));
		break;
	default:	/* null, boolean, numbers: json-c writes them as QEMU does */
		sprintbuf(pb, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		break;
	}
}

char *qmp_json_text(json_object *o, size_t *len)
{
	struct printbuf *pb = printbuf_new();
	char *s;

	if (!pb)
		return NULL;
	put_value(pb, o);
	printbuf_memappend(pb, "\r\n", 2);
	*len = printbuf_length(pb);
	s = malloc(*len + 1);
	if (s)
		memcpy(s, pb->buf, *len + 1);
	printbuf_free(pb);
	return s;
}
