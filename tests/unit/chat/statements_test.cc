// Statements and Jinja's scoping rules, with outputs worked out from Jinja's semantics.
#include "render_helpers.h"

using lowbit::chat::testing::error_of;
using lowbit::chat::testing::render;

TEST(ChatStatements, IfElifElse) {
  const char* t = "{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %}";
  EXPECT_EQ(render(t, R"({"n": 1})"), "one");
  EXPECT_EQ(render(t, R"({"n": 2})"), "two");
  EXPECT_EQ(render(t, R"({"n": 7})"), "many");
}

TEST(ChatStatements, ForLoopVariables) {
  EXPECT_EQ(render("{% for x in [1,2,3] if x != 2 %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.length }}/"
                   "{{ loop.first }}/{{ loop.last }}/{{ loop.revindex }}/{{ loop.revindex0 }};{% endfor %}"),
            "1/0/2/True/False/2/1;2/1/2/False/True/1/0;");
  EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.previtem }}>{{ x }}<{{ loop.nextitem }} {% endfor %}"),
            ">a<b a>b<c b>c< ");
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.cycle('o', 'e') }}{% endfor %}"), "oeo");
  EXPECT_EQ(render("{% for x in [1,1,2] %}{{ loop.changed(x) }}{% endfor %}"), "TrueFalseTrue");
  EXPECT_EQ(render("{% for i in [1,2] %}{% for j in [3] %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}"),
            "1112");
}

TEST(ChatStatements, ForElseUnpackingAndIterables) {
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in [1] if x > 5 %}a{% else %}none passed{% endfor %}"), "none passed");
  EXPECT_EQ(render("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }},{% endfor %}"), "b=1,a=2,");
  EXPECT_EQ(render("{% for k, v in {'b': 1, 'a': 2} | items %}{{ k }}{{ v }}{% endfor %}"), "b1a2");
  EXPECT_EQ(render("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}"), "ba");  // dicts iterate keys
  EXPECT_EQ(render("{% for (a, b), c in [((1, 2), 3)] %}{{ a }}{{ b }}{{ c }}{% endfor %}"), "123");
  EXPECT_EQ(render("{% for x in nothing %}x{% else %}undefined is empty{% endfor %}"), "undefined is empty");
  EXPECT_EQ(render("{% for m in messages[::-1] %}{{ m }}{% endfor %}", R"({"messages": [1, 2, 3]})"), "321");
}

TEST(ChatStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}"
                   "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "13");
  // Jinja's else runs unless an iteration reached the end of the body: a break or continue
  // before it does not count.
  EXPECT_EQ(render("{% for x in [1] %}{% break %}{% else %}E{% endfor %}done"), "Edone");
  EXPECT_EQ(render("{% for x in [1, 2] %}{% if x == 1 %}{% continue %}{% endif %}{% break %}{% else %}E{% endfor %}"),
            "E");
  EXPECT_EQ(render("{% for x in [1, 2] %}{% if x == 2 %}{% break %}{% endif %}{% else %}E{% endfor %}."), ".");
}

TEST(ChatStatements, LoopBodiesHaveTheirOwnScope) {
  // A read before the assignment sees the outer value; the assignment does not leave the loop.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1,2] %}[{{ x }}]{% set x = i * 10 %}({{ x }}){% endfor %}{{ x }}"),
            "[1](10)[1](20)1");
  EXPECT_EQ(render("{% for i in [1,2] %}[{{ y }}]{% set y = i %}{% endfor %}[{{ y }}]"), "[][][]");
  // {% if %} shares the enclosing scope.
  EXPECT_EQ(render("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}"), "2");
  // Namespaces carry values out of loops.
  EXPECT_EQ(render("{% set ns = namespace(n=0, seen=false) %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }} {{ ns.seen }} [{{ ns.missing }}]"),
            "6 False []");
  // A caller variable can be shadowed at the top level, as Llama's template does with messages.
  EXPECT_EQ(render("{% set messages = messages[1:] %}{{ messages }}", R"({"messages": [1, 2]})"), "[2]");
}

TEST(ChatStatements, SetForms) {
  EXPECT_EQ(render("{% set a, b = [1, 2] %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(render("{% set t = 1, 'x' %}{{ t }}"), "(1, 'x')");
  EXPECT_EQ(render("{% set b %}  blk {{ 1 }} {% endset %}[{{ b }}]"), "[  blk 1 ]");
  EXPECT_EQ(render("{% set t | trim | upper %}  t  {% endset %}[{{ t }}]"), "[T]");
}

TEST(ChatStatements, Macros) {
  const std::string m = "{% macro m(a, b='B', c=none) %}[{{ a }}|{{ b }}|{{ c }}]{% endmacro %}";
  EXPECT_EQ(render(m + "{{ m(1) }}{{ m(1, 2, 3) }}{{ m(b=5, a=0) }}{{ m() }}"), "[1|B|None][1|2|3][0|5|None][|B|None]");
  // Macros see the scope they were defined in as it is when they run; they can recurse.
  EXPECT_EQ(render("{% macro show() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ show() }}{% set x = 2 %}{{ show() }}"),
            "12");
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"), "321");
  EXPECT_EQ(render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, z=3) }}"), "1(2,){'z': 3}");
  // A default may use an earlier parameter.
  EXPECT_EQ(render("{% macro m(a, b=a * 2) %}{{ b }}{% endmacro %}{{ m(4) }}"), "8");
  // A macro's state goes through a namespace of the enclosing scope (llama.cpp's DeepSeek-R1 template).
  EXPECT_EQ(render("{% set ns = namespace(open=true) %}{% macro flush() %}{% if ns.open %}F{% set ns.open = false %}"
                   "{% endif %}{% endmacro %}{{ flush() }}{{ flush() }}."),
            "F.");
}

TEST(ChatStatements, CallFilterAndWithBlocks) {
  EXPECT_EQ(render("{% macro m() %}<{{ caller(5) }}>{% endmacro %}{% call(x) m() %}in{{ x }}{% endcall %}"), "<in5>");
  EXPECT_EQ(render("{% filter upper %}abc{{ 'd' }}{% endfilter %}"), "ABCD");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"), "3[]");
  EXPECT_EQ(render("{% print 1, 'x' %}"), "1x");
  EXPECT_EQ(render("{% generation %}reply{% endgeneration %}"), "reply");  // transformers' tag, rendered as is
}

TEST(ChatStatements, UnsupportedAndMalformedStatementsAreErrors) {
  EXPECT_EQ(error_of("a\n{% include 'x.jinja' %}"),
            "t line 2: '{% include %}' is not supported (lowbit renders one self-contained chat template)");
  EXPECT_EQ(error_of("{% extends 'base' %}"),
            "t line 1: '{% extends %}' is not supported (lowbit renders one self-contained chat template)");
  EXPECT_EQ(error_of("{% do x.append(1) %}"), "t line 1: unknown tag 'do'");
  EXPECT_EQ(error_of("{% for x in y recursive %}{% endfor %}"), "t line 1: recursive for loops are not supported");
  EXPECT_EQ(error_of("{% for x in y %}\n{% endif %}"), "t line 2: unknown tag 'endif' (inside '{% for %}' from line 1)");
  EXPECT_EQ(error_of("{% if x %}\nopen"),
            "t line 2: unexpected end of template: '{% if %}' from line 1 is not closed (expected 'elif' or 'else' or "
            "'endif')");
  EXPECT_EQ(error_of("{% break %}"), "t line 1: '{% break %}' outside of a for loop");
  EXPECT_EQ(error_of("{% for x in [1] %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}"),
            "t line 1: '{% break %}' outside of a for loop");
  EXPECT_EQ(error_of("{% set true = 1 %}"), "t line 1: cannot assign to 'true'");
  EXPECT_EQ(error_of("{% macro m(a=1, b) %}{% endmacro %}"), "t line 1: non-default argument follows default argument");
}
