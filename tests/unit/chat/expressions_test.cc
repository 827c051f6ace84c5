// Expressions with Python's semantics: literals, printing (str/repr), arithmetic,
// comparisons, membership, boolean operators, attribute/item lookup, slicing, methods,
// Jinja's Undefined, and tests (`is defined`, ...).
#include "render_helpers.h"

using lowbit::chat::testing::error_of;
using lowbit::chat::testing::render;

TEST(ChatExpressions, LiteralsPrintAsPythonWritesThem) {
  EXPECT_EQ(render("{{ none }} {{ None }} {{ true }} {{ False }} {{ 1.0 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ -0.0 }}"),
            "None None True False 1.0 1e+16 1000000000000000.0 0.0001 -0.0");
  EXPECT_EQ(render("{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }}"), "[1, 'a', None, True, 1.5, {'k': 'v'}]");
  EXPECT_EQ(render("{{ (1,) }} {{ () }} {{ 1, 2 }}"), "(1,) () (1, 2)");
  EXPECT_EQ(render(R"({{ ["it's", 'say "hi"', 'a\nb', '\u00e9\u200b'] }})"),
            R"(["it's", 'say "hi"', 'a\nb', 'é\u200b'])");
}

TEST(ChatExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ 7 / 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 4 / 2 }} {{ 10 / 3 }}"),
            "3 3.5 -4 2 -2 1024 2.0 3.3333333333333335");
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 ** -1 }} {{ true + 1 }} {{ 7.5 // 2 }}"),
            "7 9 4 0.5 2 3.0");
  EXPECT_EQ(render("{{ 'ab' * 2 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'a' + 'b' }}"), "abab [1, 1] [1, 2] ab");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ true ~ nothing }}"), "a1NoneTrue");  // ~ is str() of each, Undefined ""
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"), "t line 1: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(error_of("{{ 1 / 0 }}"), "t line 1: division by zero");
  EXPECT_EQ(error_of("{{ 9223372036854775807 + 1 }}"), "t line 1: integer overflow (the template engine uses 64-bit integers)");
  EXPECT_EQ(error_of("{{ '%s' % 1 }}"),
            "t line 1: printf-style '%' formatting of strings is not supported by lowbit's template engine");
}

TEST(ChatExpressions, ComparisonsAndMembership) {
  EXPECT_EQ(render("{{ 3 > 2 > 1 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ [1] == (1,) }}"
                   " {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ 1 != 'a' }}"),
            "True True True True False True True");
  EXPECT_EQ(render("{{ 'x' in 'xy' }} {{ 1 in [1] }} {{ 'a' not in {'a': 1} }} {{ 'k' in nothing }}"),
            "True True False False");
  EXPECT_EQ(error_of("{{ 'a' < 1 }}"), "t line 1: '<' not supported between instances of 'str' and 'int'");
  EXPECT_EQ(error_of("{{ 1 in 'abc' }}"), "t line 1: 'in <string>' requires string as left operand, not int");
}

TEST(ChatExpressions, BooleanOperatorsReturnOperands) {
  EXPECT_EQ(render("{{ none or 0 }} {{ 0 and 1 }} {{ [] or 'e' }} {{ 'a' and 'b' }} {{ not '' }} {{ not [0] }}"),
            "0 0 e b True False");
  EXPECT_EQ(render("{{ 'y' if 1 else 'n' }} {{ 'y' if '' else 'n' }} [{{ 'y' if false }}]"), "y n []");
  // Short-circuit: the right side is not evaluated.
  EXPECT_EQ(render("{{ false and nothing.attr }} {{ true or nothing.attr }}"), "False True");
}

TEST(ChatExpressions, AttributeAndItemLookup) {
  const char* m = R"({"m": {"role": "user", "content": "hi", "items": "a key"}, "l": [10, 20, 30]})";
  EXPECT_EQ(render("{{ m.role }} {{ m['content'] }} {{ l[0] }} {{ l[-1] }} {{ l.1 }}", m), "user hi 10 30 20");
  EXPECT_EQ(render("[{{ m.nope }}] [{{ m['nope'] }}] [{{ l[5] }}] [{{ m.content.nope }}] [{{ none.x }}]", m),
            "[] [] [] [] []");
  // The attribute wins for a.b (d.items is the method), the key for a['b'].
  EXPECT_EQ(render("{{ m['items'] }} {{ m.items() | list | length }}", m), "a key 3");
  EXPECT_EQ(render("{{ l[1:] }} {{ l[::-1] }} {{ l[-2:] }} {{ 'héllo'[1:4] }} {{ 'abc'[::-1] }} {{ l[5:] }}", m),
            "[20, 30] [30, 20, 10] [20, 30] éll cba []");
  EXPECT_EQ(error_of("{{ nothing.attr }}"), "t line 1: 'nothing' is undefined");
  EXPECT_EQ(error_of("x\n{{ m.nope.deeper }}", m), "t line 2: 'dict object' has no attribute 'nope'");
  EXPECT_EQ(error_of("{{ l[::0] }}", m), "t line 1: slice step cannot be zero");
}

TEST(ChatExpressions, UndefinedIsEmptyFalseAndIterableButNothingElse) {
  EXPECT_EQ(render("[{{ u }}|{{ u | length }}|{{ u | trim }}|{{ u == none }}|{{ u is none }}|{{ not u }}|"
                   "{{ u is defined }}|{{ u | default('d') }}|{{ u or 'o' }}|{{ u | list }}|{{ u | join(',') }}]"),
            "[|0||False|False|True|False|d|o|[]|]");
  EXPECT_EQ(error_of("{{ u + 1 }}"), "t line 1: 'u' is undefined");
  EXPECT_EQ(error_of("{{ u() }}"), "t line 1: 'u' is undefined");
  EXPECT_EQ(error_of("{{ u | tojson }}"), "t line 1: Object of type Undefined is not JSON serializable");
}

TEST(ChatExpressions, StringMethods) {
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a,b,c'.rsplit(',', 1) }}"),
            "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a,b', 'c']");
  EXPECT_EQ(render("[{{ '\n x \n'.strip() }}] [{{ 'xxaxx'.lstrip('x') }}] [{{ 'ab\n\n'.rstrip('\n') }}] "
                   "[{{ '\u3000a\u00a0'.strip() }}]"),
            "[x] [axx] [ab] [a]");
  EXPECT_EQ(render("{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }}"),
            "True True True");
  EXPECT_EQ(render("{{ 'héllo'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'banana'.count('an') }}"),
            "2 3 -1 2");
  EXPECT_EQ(render("{{ 'hello world'.title() }} {{ \"they're\".title() }} {{ 'hELLO'.capitalize() }} {{ 'Ab'.upper() }}"
                   "{{ 'Ab'.lower() }} {{ 'aXbX'.replace('X', '-') }} {{ 'aXbX'.replace('X', '-', 1) }}"),
            "Hello World They'Re Hello ABab a-b- a-bX");
  EXPECT_EQ(render("{{ '-'.join(['a', 'b']) }} {{ 'x'.center(5) }}| {{ '{} and {name}'.format(1, name='n') }}"
                   " {{ 'a=b=c'.partition('=') }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ '5'.zfill(3) }}"),
            "a-b   x  | 1 and n ('a', '=', 'b=c') True True 005");
  EXPECT_EQ(error_of("{{ 'a'.split('') }}"), "t line 1: empty separator");
}

TEST(ChatExpressions, DictAndListMethods) {
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys() | list }} {{ d.values() | list }}"
                   " {{ d.items() | list }}",
                   R"({"d": {"a": 1, "b": 2}})"),
            "1 None 5 ['a', 'b'] [1, 2] [('a', 1), ('b', 2)]");
  EXPECT_EQ(render("{{ [3, 1, 3].index(1) }} {{ [3, 1, 3].count(3) }}"), "1 2");
  // The immutable sandbox: methods that change a list or dict are refused.
  EXPECT_EQ(error_of("{% set l = [1] %}{{ l.append(2) }}"),
            "t line 1: access to attribute 'append' of 'list' object is unsafe (the sandbox forbids changing it)");
  EXPECT_EQ(error_of("{{ {}.update({'a': 1}) }}"),
            "t line 1: access to attribute 'update' of 'dict' object is unsafe (the sandbox forbids changing it)");
}

TEST(ChatExpressions, Tests) {
  EXPECT_EQ(render("{{ 5 is divisibleby 5 }}{{ 3 is odd }}{{ 4 is even }}{{ none is none }}{{ 'a' is string }}"
                   "{{ 1 is number }}{{ true is number }}{{ true is boolean }}{{ 1 is integer }}{{ true is integer }}"
                   "{{ 1.0 is float }}{{ {} is mapping }}{{ [] is sequence }}{{ {} is sequence }}{{ 'a' is iterable }}"
                   "{{ u is iterable }}{{ 1 is iterable }}{{ 'a' is lower }}{{ 'A' is upper }}{{ x is undefined }}"),
            "TrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueFalseTrueTrueTrue");
  EXPECT_EQ(render("{{ 1 is sameas 1 }}{{ 1 is eq 1 }}{{ 2 is gt 1 }}{{ 1 is in [1] }}{{ range is callable }}"
                   "{{ true is true }}{{ 1 is true }}{{ 'x' is not defined }}{{ x is not defined }}{{ 'upper' is filter }}"),
            "TrueTrueTrueTrueTrueTrueFalseFalseTrueTrue");
  // A test's single argument may follow without parentheses; 'and' and 'or' end it.
  EXPECT_EQ(render("{{ 1 is equalto 1 and 2 is sameas 2 }} {{ 'a' is string or x }}"), "True True");
}

TEST(ChatExpressions, Globals) {
  EXPECT_EQ(render("{% for i in range(3) %}{{ i }}{% endfor %} {{ range(2, -1, -1) | list }} {{ range(1, 6, 2) | list }}"),
            "012 [2, 1, 0] [1, 3, 5]");
  EXPECT_EQ(render("{{ dict(a=1) }} {{ dict({'b': 2}, c=3) }} {{ namespace(a=1).a }}"), "{'a': 1} {'b': 2, 'c': 3} 1");
  EXPECT_EQ(render("{{ strftime_now('%Y') | length }}"), "4");
  EXPECT_EQ(error_of("{{ range(200000) | list }}"), "t line 1: range too big: the sandbox allows at most 100000 items");
  EXPECT_EQ(error_of("{{ cycler(1, 2) }}"), "t line 1: the Jinja global 'cycler' is not supported by lowbit's template engine");
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns._x = 1 %}"),
            "t line 1: chat templates cannot store underscore-prefixed attributes on a namespace ('_x')");
}
