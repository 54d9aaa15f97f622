/* SPDX-License-Identifier: MIT */
/* Unit tests of common/change_rule: who may edit, delete, react, reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "change_rule.h"

#define WINDOW 1000

static const struct change_target own_fresh = {true, true, true, false, true, 10};
static const struct change_target own_old = {true, true, true, false, true, WINDOW + 1};
static const struct change_target others = {true, true, true, false, false, 10};
static const struct change_target other_room = {true, true, false, false, true, 10};
static const struct change_target deleted = {true, true, true, true, true, 10};
static const struct change_target absent = {false, true, false, false, false, 10};
static const struct change_target before_horizon = {false, false, false, false, false, 10};
static const struct change_target before_horizon_old = {false, false, false, false, false, WINDOW + 1};

static enum change_verdict as_member(enum envelope_op op, const struct change_target *t)
{
	return change_rule_decide(op, false, WINDOW, t);
}

static enum change_verdict as_moderator(enum envelope_op op, const struct change_target *t)
{
	return change_rule_decide(op, true, WINDOW, t);
}

static void test_edit(void **state)
{
	(void)state;
	assert_int_equal(as_member(ENVELOPE_EDIT, &own_fresh), CHANGE_OK);
	assert_int_equal(as_member(ENVELOPE_EDIT, &own_old), CHANGE_TOO_OLD);
	assert_int_equal(as_member(ENVELOPE_EDIT, &others), CHANGE_NOT_ALLOWED);
	assert_int_equal(as_moderator(ENVELOPE_EDIT, &others), CHANGE_NOT_ALLOWED); /* nobody edits others' */
	assert_int_equal(as_member(ENVELOPE_EDIT, &other_room), CHANGE_NOT_FOUND);
	assert_int_equal(as_member(ENVELOPE_EDIT, &deleted), CHANGE_NOT_FOUND);
	assert_int_equal(as_member(ENVELOPE_EDIT, &absent), CHANGE_NOT_FOUND);
	/* Sender and age unknown: never guessed. */
	assert_int_equal(as_moderator(ENVELOPE_EDIT, &before_horizon), CHANGE_NOT_FOUND);
	assert_int_equal(as_member(ENVELOPE_EDIT, &before_horizon_old), CHANGE_TOO_OLD);
}

static void test_delete(void **state)
{
	(void)state;
	assert_int_equal(as_member(ENVELOPE_DELETE, &own_fresh), CHANGE_OK);
	assert_int_equal(as_member(ENVELOPE_DELETE, &own_old), CHANGE_TOO_OLD);
	assert_int_equal(as_member(ENVELOPE_DELETE, &others), CHANGE_NOT_ALLOWED);
	assert_int_equal(as_moderator(ENVELOPE_DELETE, &others), CHANGE_OK);
	assert_int_equal(as_moderator(ENVELOPE_DELETE, &own_old), CHANGE_OK);
	assert_int_equal(as_moderator(ENVELOPE_DELETE, &deleted), CHANGE_NOT_FOUND);
	assert_int_equal(as_moderator(ENVELOPE_DELETE, &other_room), CHANGE_NOT_FOUND);
	assert_int_equal(as_moderator(ENVELOPE_DELETE, &absent), CHANGE_NOT_FOUND);
	assert_int_equal(as_moderator(ENVELOPE_DELETE, &before_horizon), CHANGE_OK);
	assert_int_equal(as_member(ENVELOPE_DELETE, &before_horizon), CHANGE_NOT_FOUND);
}

static void test_react_and_reply(void **state)
{
	(void)state;
	const enum envelope_op ops[] = {ENVELOPE_REACT, ENVELOPE_POST};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(as_member(ops[i], &others), CHANGE_OK);
		assert_int_equal(as_member(ops[i], &own_old), CHANGE_OK);
		assert_int_equal(as_member(ops[i], &other_room), CHANGE_NOT_FOUND);
		assert_int_equal(as_member(ops[i], &deleted), CHANGE_NOT_FOUND);
		assert_int_equal(as_member(ops[i], &absent), CHANGE_NOT_FOUND);
		assert_int_equal(as_member(ops[i], &before_horizon_old), CHANGE_OK);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_react_and_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
