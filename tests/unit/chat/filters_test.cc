// Filters, including transformers' tojson (json.dumps with ensure_ascii=False).
#include "render_helpers.h"

using lowbit::chat::testing::error_of;
using lowbit::chat::testing::render;

TEST(ChatFilters, Strings) {
  EXPECT_EQ(render("[{{ '  a  ' | trim }}] [{{ 'xxaxx' | trim('x') }}] {{ 'hello world' | capitalize }} "
                   "{{ 'HELLO' | capitalize }} {{ 'a b-c(d' | title }} {{ 'aB' | upper }}{{ 'aB' | lower }}"),
            "[a] [a] Hello world Hello A B-C(D ABab");
  EXPECT_EQ(render("{{ 'a-b-c' | replace('-', '+') }} {{ 'a-b-c' | replace('-', '+', 1) }} {{ none | string }}"
                   " {{ 12 | string }} {{ [1, 'a'] | string }} {{ '<b>&' | escape }} {{ '<b>' | safe }}"),
            "a+b+c a+b-c None 12 [1, 'a'] &lt;b&gt;&amp; <b>");
  // A filter binds tighter than '+': this is 'x' + (y | trim).
  EXPECT_EQ(render("{{ 'x' + y | trim }}", R"({"y": "  y  "})"), "xy");
  EXPECT_EQ(render("{{ 'a b  c' | wordcount }} {{ 'abc' | center(7) }}|"), "3   abc  |");
}

TEST(ChatFilters, Indent) {
  EXPECT_EQ(render("{{ 'a\nb' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent }}|"
                   "{{ 'a\n\nb' | indent(1, blank=true) }}|{{ 'a\nb' | indent('> ') }}"),
            "a\n  b|  a\n  b|a\n\n    b|a\n \n b|a\n> b");
}

TEST(ChatFilters, Sequences) {
  EXPECT_EQ(render("{{ [1, 2] | first }} {{ [1, 2] | last }} {{ 'abc' | first }} {{ [1, 2] | length }} {{ 'héllo' | count }}"
                   " {{ [1, 2] | join }} {{ [1, 2] | join(', ') }} {{ 'ab' | list }} {{ {'a': 1} | list }}"),
            "1 2 a 2 5 12 1, 2 ['a', 'b'] ['a']");
  EXPECT_EQ(render("[{{ [] | first }}] {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A'] | sort(case_sensitive=true) }}"
                   " {{ [1, 3, 2] | sort(reverse=true) }} {{ [{'n': 2}, {'n': 1}] | sort(attribute='n') }}"),
            "[] [1, 2, 3] ['A', 'b', 'c'] ['A', 'b'] [3, 2, 1] [{'n': 1}, {'n': 2}]");
  EXPECT_EQ(render("{{ {'b': 1, 'A': 2} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }} {{ [1, 1, 2] | unique | list }}"
                   " {{ 'abc' | reverse }} {{ [1, 2] | reverse | list }} {{ [1, 2, 3] | sum }} {{ [3, 1] | max }} {{ [3, 1] | min }}"),
            "[('A', 2), ('b', 1)] [('b', 1), ('a', 2)] [1, 2] cba [2, 1] 6 3 1");
}

TEST(ChatFilters, SelectRejectMap) {
  const char* v = R"({"ms": [{"role": "user", "n": 1}, {"role": "assistant", "n": 2}, {"role": "user"}]})";
  EXPECT_EQ(render("{{ ms | selectattr('role', 'equalto', 'user') | list | length }} {{ ms | selectattr('n') | list | length }}"
                   " {{ ms | rejectattr('role', '==', 'user') | map(attribute='n') | list }}"
                   " {{ ms | map(attribute='n', default=0) | list }} {{ ms | map(attribute='role') | map('upper') | join(',') }}",
                   v),
            "2 2 [2] [1, 2, 0] USER,ASSISTANT,USER");
  EXPECT_EQ(render("{{ [1, 0, 2] | select | list }} {{ [1, 2, 3] | reject('odd') | list }} {{ [1, 5] | select('gt', 2) | list }}"),
            "[1, 2] [2] [5]");
  // Python prints a generator as an address: refusing beats printing something else.
  EXPECT_EQ(error_of("{{ [1] | map('string') }}"),
            "t line 1: cannot print a generator or dict view (Python prints its address); add '| list'");
}

TEST(ChatFilters, NumbersAndDefaults) {
  EXPECT_EQ(render("{{ '12' | int }} {{ '1.5' | int }} {{ 'x' | int }} {{ 1.7 | int }} {{ 'x' | int(5) }} {{ '0x1f' | int(base=16) }}"
                   " {{ '1.5' | float }} {{ 'x' | float }} {{ -3 | abs }} {{ 2.567 | round(1) }} {{ 2.5 | round }}"
                   " {{ 2.1 | round(method='ceil') }}"),
            "12 1 0 1 5 31 1.5 0.0 3 2.6 2.0 3.0");
  EXPECT_EQ(render("{{ u | default('d') }} {{ '' | default('d') }} {{ '' | d('d', true) }} {{ none | default('d') }}"),
            "d  d None");
}

TEST(ChatFilters, ToJsonIsTransformersJsonDumps) {
  EXPECT_EQ(render(R"({{ {'b': 'é<>&"', 'a': [1, 2.5, none, true, 'x\ny']} | tojson }})"),
            R"({"b": "é<>&\"", "a": [1, 2.5, null, true, "x\ny"]})");
  EXPECT_EQ(render("{{ {'a': {'b': [1, 2]}, 'c': []} | tojson(indent=2) }}"),
            "{\n  \"a\": {\n    \"b\": [\n      1,\n      2\n    ]\n  },\n  \"c\": []\n}");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }} {{ [1, {'k': 'v'}] | tojson(separators=(',', ':')) }}"
                   " {{ 'é' | tojson(ensure_ascii=true) }} {{ 1.0 | tojson }} {{ 1e20 | tojson }} {{ (1, 2) | tojson }}"),
            R"({"a": 2, "b": 1} [1,{"k":"v"}] "\u00e9" 1.0 1e+20 [1, 2])");
  EXPECT_EQ(render("{{ {1: 'x', true: 'y', none: 'z'} | tojson }}"), R"({"1": "y", "null": "z"})");
}

TEST(ChatFilters, UnknownFiltersFailAtParseTimeUnlessInsideAnIf) {
  // Jinja defers the error to run time inside {% if %} and conditional expressions
  // (DeepSeek-V3.2's template uses from_json, which transformers does not define, that way).
  EXPECT_EQ(render("{% if x %}{{ x | from_json }}{% endif %}ok"), "ok");
  EXPECT_EQ(render("{{ (x | from_json) if x else 'no' }}"), "no");
  EXPECT_EQ(error_of("{% if true %}\n{{ 'a' | from_json }}{% endif %}"), "t line 2: no filter named 'from_json'");
  EXPECT_EQ(error_of("text\n{{ x | from_json }}"), "t line 2: no filter named 'from_json'");
  EXPECT_EQ(error_of("{% for m in ms %}{% if m %}{% endif %}{{ m | groupby('a') }}{% endfor %}"),
            "t line 1: the Jinja filter 'groupby' is not supported by lowbit's template engine");
  EXPECT_EQ(error_of("{{ 1 is escaped }}"), "t line 1: the Jinja test 'escaped' is not supported by lowbit's template engine");
  EXPECT_EQ(error_of("{{ 1 is frobnicated }}"), "t line 1: no test named 'frobnicated'");
}
