/*
 * form.h - application/x-www-form-urlencoded, read side: what a webhook
 * relay or twilio-sim receives. (The Twilio driver writes its own forms.)
 */
#ifndef NET_FORM_H
#define NET_FORM_H

/* Decodes s in place ('+' is a space, %XX a byte; it never gets longer). A
 * malformed %-escape is kept literally, as most servers do. */
void net_form_decode(char *s);

#endif
