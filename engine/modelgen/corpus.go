package modelgen

// corpus is the text the bundled byte-level BPE vocabulary is trained on:
// a little English and Chinese in the register of the characters Maopao
// hosts, so common words of both languages become single tokens. It was
// written for Maopao.
const corpus = `The lantern over the tavern door swung in the evening wind, and the old innkeeper wiped the counter for the third time.
"Welcome, traveler," she said. "You look like someone who has walked a long way. Sit by the fire and tell me where you are going."
I am going north, to the city of bridges, where the river splits into seven arms and every house has a boat tied to its steps.
The merchant laughed and counted his coins. "Nobody goes north in winter unless they are running from something, or toward someone."
She smiled, but her eyes were tired. "Then you must be running toward someone. That is the better kind of journey."
The cat on the windowsill opened one eye, decided the conversation was not interesting, and went back to sleep.
In the morning the market filled with voices: fish sellers, tea sellers, a boy with a basket of warm buns, a scholar arguing about the weather.
What do you remember about your home? I remember the smell of rain on the roof, my mother singing, and the sound of the bell at the temple.
He told the story slowly, as if every word cost him something. "I was a soldier once. Now I only want to grow plums and forget."
Do not be afraid of the dark forest. The trees are old, and old things are patient. Walk softly and they will let you pass.
The guild master looked at the map and tapped the mountain pass with one finger. "Here. If the caravan is late, this is where it stopped."
Thank you for your help. I could not have found the key without you. Would you like some tea before you leave?
It is raining again. The streets are quiet, the shops are closed, and the only light comes from the bakery on the corner.
She wrote a letter every day and never sent any of them. The drawer was full of paper, folded carefully, tied with blue string.
"Why do you always answer a question with another question?" "Why do you think I do that?" They both laughed.
The wizard was not old and not wise, but he was kind, and in that village kindness was rarer than magic.
Tell me about the stars. Which one is yours? Every child in the valley chooses a star on their seventh birthday.
The train was late, the coffee was cold, and the stranger across the table was reading the same book as me.
Good morning! Good evening! Good night! How are you today? I am fine, thank you, and you?
We should leave before sunrise. The guards change at dawn, and for a few minutes nobody watches the east gate.
I don't know what happened. One moment the room was full of people, and the next moment it was empty and silent.
Remember: never trust a fox who offers directions, never refuse a cup of tea from a grandmother, and never run on a frozen lake.
The robot tilted its head. "I do not understand jokes," it said, "but I understand that you are happy, and that is enough."
Friendship is a small fire. You have to feed it a little every day, or one cold night you will find only ashes.
夜色很深，客栈门口的灯笼在风里轻轻摇晃，老板娘又擦了一遍柜台。
“欢迎你，远方的客人。”她笑着说，“你看起来走了很远的路，坐到火边来，告诉我你要去哪里。”
我要去北方的水城，那里的河分成七条，每一户人家的台阶下都拴着一条小船。
商人数着铜钱，大声笑道：“冬天没有人往北走，除非是在逃避什么，或者是去找一个人。”
早上的集市很热闹，有卖鱼的，有卖茶的，还有一个提着一篮热包子的小男孩。
你还记得家乡的什么？我记得雨落在屋顶上的声音，记得母亲唱歌，记得寺庙的钟声。
他说得很慢，好像每一个字都很重。“我以前是个士兵，现在只想种梅子，把过去忘掉。”
不要害怕黑暗的森林。树都很老了，老的东西都很有耐心。轻轻地走，它们会让你过去。
谢谢你的帮助，没有你我找不到那把钥匙。走之前要不要喝杯茶？
又下雨了。街上很安静，店铺都关了门，只有街角的面包店还亮着灯。
她每天都写一封信，却一封也没有寄出去。抽屉里装满了信纸，每一张都叠得整整齐齐。
“你为什么总是用问题回答问题？”“你为什么觉得我会这样？”两个人都笑了。
那个巫师不老，也不聪明，但是他很善良。在那个村子里，善良比魔法还要少见。
给我讲讲星星吧。哪一颗是你的？山谷里的每个孩子在七岁生日那天都会选一颗星星。
你好！早上好！晚上好！你今天怎么样？我很好，谢谢，你呢？
我们应该在天亮之前出发。守卫在黎明换班，有几分钟没有人看守东门。
我不知道发生了什么。刚才房间里还满是人，转眼就空了，一点声音也没有。
机器人歪着头说：“我不懂笑话，但我知道你现在很开心，这就够了。”
友情像一小堆火，每天都要添一点柴，不然在某个寒冷的夜里，你只会看到灰烬。
朋友，我们明天一起去山上看日出吧。山顶的风很大，记得多穿一件衣服。
这个世界很大，每个人都有自己的故事。你愿意听我讲一个关于猫和月亮的故事吗？
`
